"""The Slack edge of ml-leaders-bot and the product logic that serves it."""
