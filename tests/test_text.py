from __future__ import annotations

from index.text import clean_text, split_sentences, tokenize


def test_sentences_split_on_terminal_punctuation_and_keep_wording() -> None:
    text = "Hire well. Then train “people.” Use e.g. bootcamps! Does it work? Yes."
    assert split_sentences(text) == [
        "Hire well.",
        "Then train “people.”",
        "Use e.g. bootcamps!",
        "Does it work?",
        "Yes.",
    ]


def test_sentences_do_not_split_inside_numbers_or_lowercase_continuations() -> None:
    assert split_sentences("It costs 2.5 million. ok then.") == ["It costs 2.5 million. ok then."]


def test_tokenize_drops_stopwords_and_meets_word_forms() -> None:
    assert tokenize("Hiring the hires") == tokenize("hire hire")
    assert "monitor" in tokenize("Monitoring")
    assert tokenize("the and of") == []


def test_clean_text_removes_controls_and_invisible_characters() -> None:
    assert clean_text("a\x00b\u200b \n\t c\x7f") == "a b c"
    assert clean_text("ｆｕｌｌ width") == "full width"


def test_logs_mask_slack_tokens_and_configured_secrets() -> None:
    import logging

    from bot.logsafe import RedactingFormatter

    formatter = RedactingFormatter("%(message)s", secrets=("client-secret-123", "short"))
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "body %s; secret=%s; short stays",
        (
            '{"access_token": "xoxb-111-222-abcDEF", "refresh_token": "xoxe-1-ABC"}',
            "client-secret-123",
        ),
        None,
    )
    line = formatter.format(record)
    assert "xoxb-" not in line and "xoxe-" not in line and "client-secret-123" not in line
    assert line.count("[redacted]") == 3 and "short stays" in line
