"""The acceptance flow of the server issue, run by the real `atlassian-python-api` client (PyPI).

Usage: python3 python_client.py BASE_URL EMAIL TOKEN SPACE_KEY
  BASE_URL is http://127.0.0.1:PORT (Server/DC paths) or http://127.0.0.1:PORT/wiki (Cloud paths).
Prints one JSON line with what it saw; exits non-zero with the reason on the first failure.
"""

import json
import sys
import traceback

from atlassian import Confluence
from requests import HTTPError

base, email, token, key = sys.argv[1:5]
client = Confluence(url=base, username=email, password=token, cloud=False)
seen = {}


def check(cond, what):
    if not cond:
        raise AssertionError(f"check failed: {what}")


def status_of(call):
    try:
        call()
        return 200
    except HTTPError as e:
        return e.response.status_code
    except Exception as e:  # the client wraps some errors (ApiNotFoundError, ApiError)
        reason = getattr(e, "reason", None)
        response = getattr(reason, "response", None)
        return getattr(response, "status_code", repr(e))


PARENT = (
    "<h1>Service overview</h1><p>The <strong>ledger</strong> service records payments.</p>"
    "<table><tbody><tr><th>Region</th><th>Owner</th></tr><tr><td>US</td><td>Bob</td></tr></tbody></table>"
    '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">sql</ac:parameter>'
    "<ac:plain-text-body><![CDATA[SELECT * FROM ledger;]]></ac:plain-text-body></ac:structured-macro>"
    '<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Entries are immutable.</p></ac:rich-text-body></ac:structured-macro>'
    '<p>See <a href="https://example.com/ledger">the ledger docs</a>.</p>'
)

try:
    space_key = f"{key}PY"
    client.create_space(space_key, "Python client space")
    spaces = client.get_all_spaces(start=0, limit=50)
    results = spaces["results"] if isinstance(spaces, dict) else spaces
    seen["spaces"] = sorted(s["key"] for s in results)
    check(space_key in seen["spaces"] and key in seen["spaces"], f"spaces listed: {seen['spaces']}")
    check(client.get_space(space_key)["key"] == space_key, "space read back")

    parent = client.create_page(space_key, "Ledger (python)", PARENT, representation="storage")
    child = client.create_page(
        space_key,
        "Reconciliation (python)",
        '<p>Child of <ac:link><ri:page ri:content-title="Ledger (python)" /></ac:link>.</p>',
        parent_id=parent["id"],
    )
    read = client.get_page_by_id(parent["id"], expand="body.storage,version,ancestors")
    value = read["body"]["storage"]["value"]
    for part in ["<h1>Service overview</h1>", "<th>Region</th>", 'ac:name="code"', "SELECT * FROM ledger;",
                 'ac:name="info"', "Entries are immutable.", 'href="https://example.com/ledger"']:
        check(part in value, f"storage read back has {part}: {value}")
    check(read["version"]["number"] == 1, f"first version: {read['version']}")
    read_child = client.get_page_by_id(child["id"], expand="ancestors")
    check(parent["id"] in [a["id"] for a in read_child["ancestors"]], "child has the parent as ancestor")
    found = client.get_page_by_title(space_key, "Reconciliation (python)")
    found = found.get("results", [found]) if isinstance(found, dict) else found
    check([p["id"] for p in found] == [child["id"]], f"page by title: {found}")

    updated = client.update_page(parent["id"], "Ledger (python)", PARENT + "<p>Updated by python.</p>")
    check(updated["version"]["number"] == 2, f"update bumps the version: {updated['version']}")
    stale = {"type": "page", "title": "Ledger (python)", "version": {"number": 2},
             "body": {"storage": {"value": "<p>stale</p>", "representation": "storage"}}}
    seen["staleStatus"] = status_of(lambda: client.put(f"rest/api/content/{parent['id']}", data=stale))
    check(seen["staleStatus"] == 409, f"a stale version gets 409: {seen['staleStatus']}")

    # A PUT with new ancestors moves the page (update_page's parent_id).
    other = client.create_page(space_key, "Archive (python)", "<p>Old things.</p>")
    client.update_page(child["id"], "Reconciliation (python)", "<p>Moved.</p>", parent_id=other["id"])
    moved = client.get_page_by_id(child["id"], expand="ancestors,body.storage")
    check([a["id"] for a in moved["ancestors"]] == [other["id"]], f"moved under the archive: {moved['ancestors']}")
    client.update_page(child["id"], "Reconciliation (python)", "<p>Back.</p>", parent_id=parent["id"])

    kids = client.get_page_child_by_type(parent["id"], type="page")
    kids = kids["results"] if isinstance(kids, dict) else kids
    check(child["id"] in [k["id"] for k in kids], f"children list the child: {kids}")

    by_title = client.cql(f'title ~ "Reconciliation" AND space = {space_key}')
    check(any(r["content"]["id"] == child["id"] for r in by_title["results"]), f"CQL title: {by_title['results']}")
    check(all(k in by_title for k in ("results", "start", "limit", "size", "totalSize")), f"search shape: {list(by_title)}")
    by_text = client.cql('text ~ "records payments"')
    check(any(r["content"]["id"] == parent["id"] for r in by_text["results"]), "CQL text finds the parent")
    check(all(k in by_text["results"][0] for k in ("title", "excerpt", "url", "lastModified")), "search result shape")

    client.set_page_label(parent["id"], "ledger")
    client.set_page_label(parent["id"], "finance")
    labels = client.get_page_labels(parent["id"])
    seen["labels"] = sorted(l["name"] for l in labels["results"])
    check(seen["labels"] == ["finance", "ledger"], f"labels: {seen['labels']}")

    client.attach_content(b"first version\n", name="notes.txt", content_type="text/plain", page_id=parent["id"])
    client.attach_content(b"second version, longer\n", name="notes.txt", content_type="text/plain", page_id=parent["id"])
    atts = client.get_attachments_from_content(parent["id"], filename="notes.txt")
    check(len(atts["results"]) == 1, f"one attachment: {atts}")
    att = atts["results"][0]
    check(att["version"]["number"] == 2, f"re-upload made version 2: {att['version']}")
    data = client.get(att["_links"]["download"].lstrip("/").removeprefix("wiki/"), not_json_response=True)
    check(data == b"second version, longer\n", f"download has the new data: {data!r}")

    client.add_comment(parent["id"], "<p>Reviewed.</p>")
    comments = client.get_page_comments(parent["id"], expand="body.storage")
    check(any("Reviewed." in c["body"]["storage"]["value"] for c in comments["results"]), f"comment: {comments}")

    client.remove_page(child["id"])
    seen["afterDelete"] = status_of(lambda: client.get_page_by_id(child["id"]))
    check(seen["afterDelete"] == 404, f"deleted page is 404: {seen['afterDelete']}")

    seen["parent"] = parent["id"]
    seen["ok"] = True
    print(json.dumps(seen))
except Exception:
    traceback.print_exc()
    seen["ok"] = False
    print(json.dumps(seen))
    sys.exit(1)
