#!/usr/bin/python3
"""What any WebKitGTK app holds: a bare GTK window with one WebKit view showing about:blank,
idle for SECONDS, then its process tree's memory (VmRSS and PSS, summed as footprint.mjs sums
the app's). scripts/bench-desktop runs it beside the app, once with WebKit's defaults and once
with the settings the app uses (`--lighten`: CPU drawing, the document-viewer cache).

    python3 webkit_floor.py SECONDS [--lighten]     # under Xvfb; needs python3-gi, gir1.2-webkit2-4.1
"""
import json
import os
import re
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

seconds = float(sys.argv[1])
lighten = "--lighten" in sys.argv[2:]


def tree(root):
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            parents[int(pid)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        except OSError:
            pass
    out = [root]
    for pid in out:
        out += [c for c, p in parents.items() if p == pid]
    return out


def measure():
    rss = pss = 0
    for pid in tree(os.getpid()):
        try:
            rss += int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
            pss += int(re.search(r"^Pss:\s+(\d+)", open(f"/proc/{pid}/smaps_rollup").read(), re.M).group(1))
        except (OSError, AttributeError):
            pass
    print(json.dumps({"lighten": lighten, "rssMb": round(rss / 1024), "pssMb": round(pss / 1024)}), flush=True)
    Gtk.main_quit()


context = WebKit2.WebContext.get_default()
view = WebKit2.WebView.new_with_context(context)
if lighten:
    context.set_cache_model(WebKit2.CacheModel.DOCUMENT_VIEWER)
    view.get_settings().set_hardware_acceleration_policy(WebKit2.HardwareAccelerationPolicy.NEVER)
window = Gtk.Window()
window.set_default_size(1280, 800)
window.add(view)
window.show_all()
view.load_uri("about:blank")
GLib.timeout_add(int(seconds * 1000), measure)
Gtk.main()
