"""`booth devices`: list audio input and output devices with the rates each accepts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from booth.errors import EX_UNAVAILABLE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "devices",
        help="List audio input and output devices with the rates each accepts.",
        description=(
            "List audio input and output devices with the rates each accepts.\n"
            "\n"
            "Use a name (or a part of it) from this list as audio.input_device / output_device."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def collect() -> list[dict[str, Any]]:
    from booth.audio import devices

    rows = []
    with devices.portaudio() as pa:
        try:
            default_in = int(pa.get_default_input_device_info()["index"])
        except OSError:
            default_in = -1
        try:
            default_out = int(pa.get_default_output_device_info()["index"])
        except OSError:
            default_out = -1
        for dev in devices.list_devices(pa):
            row: dict[str, Any] = {
                "index": dev.index,
                "name": dev.name,
                "host_api": dev.host_api,
                "default_rate": dev.default_rate,
            }
            for kind, channels, is_input, default in (
                ("input", dev.max_input_channels, True, default_in),
                ("output", dev.max_output_channels, False, default_out),
            ):
                if channels <= 0:
                    continue
                # Mono first (what booth opens); a stereo-only device gets probed in stereo.
                probe = 1
                rates = devices.supported_rates(pa, dev, input=is_input, channels=1)
                if not rates and channels >= 2:
                    probe = 2
                    rates = devices.supported_rates(pa, dev, input=is_input, channels=2)
                row[kind] = {
                    "channels": channels,
                    "rates": rates,
                    "rates_probed_with_channels": probe,
                    "default": dev.index == default,
                }
            rows.append(row)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = []
    for kind in ("input", "output"):
        lines.append(f"{kind} devices:")
        found = [r for r in rows if kind in r]
        if not found:
            lines.append("  (none)")
        for row in found:
            info = row[kind]
            mark = "*" if info["default"] else " "
            rates = ", ".join(str(r) for r in info["rates"]) or "none of the probed rates"
            probe = "mono" if info["rates_probed_with_channels"] == 1 else "stereo"
            lines.append(
                f" {mark}{row['index']:>3}  {row['name']}  [{row['host_api']}]  "
                f"{info['channels']} ch  rates ({probe}): {rates}"
            )
        lines.append("")
    lines.append("* system default. Match a device with a part of its name or /regex/.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        rows = collect()
    except OSError as exc:
        print(f"booth devices: PortAudio failed: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(render(rows))
    return 0
