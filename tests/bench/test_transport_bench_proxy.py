"""`booth bench transport`'s HTTP-proxy row: summarised beside the direct booth of the same run."""

from __future__ import annotations

from booth.bench import transport
from booth.bench.transport import Sample


def test_the_proxy_row_is_shown_with_its_ratio_to_direct() -> None:
    direct = transport.summarise([2.5, 2.6])
    resume = transport.summarise([0.2, 0.4])
    block = transport._proxy_block([Sample(2.6, 0.3), Sample(2.4, 0.9)], direct, resume)
    assert block["detect_s"]["median"] == 2.5
    assert block["ratio_to_direct"] == {"detect_s": round(2.5 / 2.55, 2), "resume_s": 2.0}
    assert block["meets_targets"] is True
    late = transport._proxy_block([Sample(3.4, 0.3)], direct, resume)
    assert late["meets_targets"] is False
    result = {
        "detect_s": direct,
        "resume_s": resume,
        "through_http_proxy": block,
        "websockets_defaults": {"detect_s": direct, "resume_s": resume},
    }
    table = transport.render_table(result)
    assert "booth via HTTP proxy detect_s  2.500" in table
    skipped = {**result, "through_http_proxy": {"skipped": "tinyproxy is not installed"}}
    assert "via HTTP proxy" not in transport.render_table(skipped)
