"""The Slack edge: the Bolt app, its listeners and middleware, Block Kit, the server."""
