"""docs/api.md's settings table, rendered from the one declaration (echonest.nest_settings).

``python -m echonest.settings_doc`` prints it; a test checks docs/api.md carries exactly this
text between its markers, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from echonest.nest_settings import SETTINGS

BEGIN = "<!-- settings-table:begin (python -m echonest.settings_doc) -->"
END = "<!-- settings-table:end -->"


def _values(setting) -> str:
    if setting.choices:
        return " \\| ".join(f'`"{c}"`' for c in setting.choices)
    if setting.kind is bool:
        return "`true` \\| `false`"
    return f"{setting.kind.__name__} {setting.minimum:g}–{setting.maximum:g}"


def _default(setting) -> str:
    def show(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        return f'"{value}"' if isinstance(value, str) else f"{value:g}"

    text = f"`{show(setting.default)}`"
    if setting.main_default is not None and setting.main_default != setting.default:
        text += f" (Home Nest `{show(setting.main_default)}`)"
    if not setting.on_main:
        text += " (fixed on the Home Nest)"
    return text


def table() -> str:
    rows = ["| setting | values | default | what it does |", "|---|---|---|---|"]
    for setting in SETTINGS:
        rows.append(f"| `{setting.name}` | {_values(setting)} | {_default(setting)} | "
                    f"{setting.help.replace('|', '/')} |")
    return "\n".join([BEGIN, *rows, END])


if __name__ == "__main__":
    print(table())
