"""Sphinx extension: drop duplicate script entries (sphinx-thebe and sphinx-togglebutton emit their
inline scripts twice; the repeated ``const THEBE_JS_URL`` throws a SyntaxError on every page).
Two entries are duplicates when their file name (``None`` and ``""`` both mean an inline script) and
attributes (an inline script's body included) are equal, whatever their priority."""

import json


def _key(script):
    attributes = getattr(script, "attributes", {}) or {}
    return getattr(script, "filename", None) or "", json.dumps(attributes, sort_keys=True, default=str)


def _dedupe(app, pagename, templatename, context, doctree):
    unique = {}
    for script in context.get("script_files") or []:
        unique.setdefault(_key(script), script)
    context["script_files"] = list(unique.values())


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
