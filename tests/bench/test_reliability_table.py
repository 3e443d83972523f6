"""`booth bench reliability` sums up the hostile-service suites from the recorded figures."""

from __future__ import annotations

from booth.bench import reliability


def test_hostile_summary_and_table() -> None:
    scenarios = {
        "huge_json_token": {
            "suite": "test_hostile_service",
            "runs": 1,
            "passes": 1,
            "worst": {"peak_rss_growth_mb": 5.2, "time_to_typed_error_s": 0.1},
        },
        "trickling_body": {
            "suite": "test_hostile_service",
            "runs": 1,
            "passes": 0,
            "worst": {"peak_rss_growth_mb": 3.7, "time_to_typed_error_s": 6.0},
        },
        "score_poll": {
            "suite": "test_hostile_daemon",
            "runs": 1,
            "passes": 1,
            "worst": {"time_to_typed_error_s": 2.0},
        },
        "tcp_reset_resumes": {"suite": "test_network", "runs": 1, "passes": 1},
    }
    summary = reliability.hostile_summary(scenarios)
    assert summary == {
        "scenarios": 3,
        "survived": 2,
        "peak_rss_growth_mb": 5.2,
        "longest_time_to_typed_error_s": 6.0,
    }
    table = reliability.render_table(
        {"scenarios": scenarios, "hostile": summary, "pytest": "4 passed"}
    )
    assert "hostile service" in table and "5.2 MB" in table and "6.00 s" in table
