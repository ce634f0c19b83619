// The acceptance flow of the server issue, run by the real `confluence.js` client (npm, v2).
// Usage: node node_client.mjs BASE_URL EMAIL TOKEN SPACE_KEY
//   BASE_URL: http://127.0.0.1:PORT (Cloud paths, /wiki/rest/api) or http://127.0.0.1:PORT/server
//   (Server/DC paths, /rest/api).
// Prints one JSON line with what it saw; exits non-zero with the reason on the first failure.
import { ConfluenceClient } from 'confluence.js';

const [base, email, token, key] = process.argv.slice(2);
const server = base.endsWith('/server');
const host = server ? base.slice(0, -'/server'.length) : base;
const client = new ConfluenceClient({
  host,
  apiPrefix: server ? '/rest' : undefined,
  authentication: { basic: { email, apiToken: token } },
});

const seen = {};
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
const storage = (value) => ({ storage: { value, representation: 'storage' } });
async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    // confluence.js throws the response body (statusCode, message) or an axios error.
    return e?.statusCode ?? e?.response?.status ?? e?.status ?? JSON.stringify(e);
  }
}

const parentBody =
  '<h1>Service overview</h1><p>The <strong>billing</strong> service charges cards.</p>' +
  '<table><tbody><tr><th>Region</th><th>Owner</th></tr><tr><td>EU</td><td>Alice</td></tr></tbody></table>' +
  '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">python</ac:parameter>' +
  '<ac:plain-text-body><![CDATA[charge(card, amount)]]></ac:plain-text-body></ac:structured-macro>' +
  '<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Refunds take five days.</p></ac:rich-text-body></ac:structured-macro>' +
  '<p>See <a href="https://example.com/billing">the billing docs</a>.</p>';

try {
  const spaceKey = `${key}JS`;
  await client.space.createSpace({ key: spaceKey, name: 'Node client space', description: { plain: { value: 'made by confluence.js', representation: 'plain' } } });
  const spaces = await client.space.getSpaces();
  seen.spaces = spaces.results.map((s) => s.key);
  check(seen.spaces.includes(spaceKey) && seen.spaces.includes(key), `spaces listed: ${seen.spaces}`);

  const parent = await client.content.createContent({ type: 'page', title: 'Billing (node)', space: { key: spaceKey }, body: storage(parentBody) });
  const child = await client.content.createContent({
    type: 'page', title: 'Refunds (node)', space: { key: spaceKey }, ancestors: [{ id: parent.id }],
    body: storage('<p>Child of <ac:link><ri:page ri:content-title="Billing (node)" /></ac:link>.</p>'),
  });
  check(typeof parent.id === 'string' && /^\d+$/.test(parent.id), `ids are decimal strings: ${parent.id}`);

  const read = await client.content.getContentById({ id: parent.id, expand: ['body.storage', 'version', 'ancestors'] });
  const value = read.body.storage.value;
  for (const part of ['<h1>Service overview</h1>', '<th>Region</th>', 'ac:name="code"', 'charge(card, amount)', 'ac:name="info"', 'Refunds take five days.', 'href="https://example.com/billing"']) {
    check(value.includes(part), `storage read back has ${part}: ${value}`);
  }
  check(read.version.number === 1, `first version is 1: ${read.version.number}`);
  const readChild = await client.content.getContentById({ id: child.id, expand: ['ancestors', 'body.storage'] });
  check(readChild.ancestors.map((a) => a.id).includes(parent.id), 'child has the parent as ancestor');
  check(readChild.body.storage.value.includes('ri:content-title="Billing (node)"'), `page link read back: ${readChild.body.storage.value}`);

  const updated = await client.content.updateContent({
    id: parent.id, type: 'page', title: 'Billing (node)', version: { number: 2 },
    body: storage(parentBody + '<p>Updated by node.</p>'),
  });
  check(updated.version.number === 2, `update bumps the version: ${updated.version.number}`);
  seen.staleStatus = await status(client.content.updateContent({
    id: parent.id, type: 'page', title: 'Billing (node)', version: { number: 2 }, body: storage('<p>stale</p>'),
  }));
  check(seen.staleStatus === 409, `a stale version gets 409: ${seen.staleStatus}`);

  const children = await client.contentChildrenAndDescendants.getContentChildrenByType({ id: parent.id, type: 'page' });
  check(children.results.map((c) => c.id).includes(child.id), 'children list the child');

  const byTitle = await client.search.searchByCQL({ cql: `title ~ "Refunds (node)" AND space = ${spaceKey}` });
  check(byTitle.results.some((r) => r.content.id === child.id), `CQL title search finds the child: ${JSON.stringify(byTitle.results.map((r) => r.title))}`);
  const byText = await client.content.searchContentByCQL({ cql: 'text ~ "charges cards"' });
  check(byText.results.some((r) => r.id === parent.id), 'CQL text search finds the parent');

  await client.contentLabels.addLabelsToContent({ id: parent.id, body: [{ prefix: 'global', name: 'payments' }, { prefix: 'global', name: 'team-billing' }] });
  const labels = await client.contentLabels.getLabelsForContent({ id: parent.id });
  seen.labels = labels.results.map((l) => l.name).sort();
  check(seen.labels.join() === 'payments,team-billing', `labels read back: ${seen.labels}`);

  const created = await client.contentAttachments.createAttachments({
    id: parent.id, attachments: { file: Buffer.from('first version\n'), filename: 'notes.txt', minorEdit: true },
  });
  const attachment = created.results[0];
  check(attachment.id.startsWith('att') && attachment.title === 'notes.txt', `attachment created: ${JSON.stringify(attachment)}`);
  const again = await client.contentAttachments.updateAttachmentData({
    id: parent.id, attachmentId: attachment.id, attachment: { file: Buffer.from('second version\n'), filename: 'notes.txt', minorEdit: true },
  });
  check(again.version.number === 2, `re-upload makes version 2: ${JSON.stringify(again.version)}`);
  const listed = await client.contentAttachments.getAttachments({ id: parent.id });
  check(listed.results.length === 1 && listed.results[0].extensions.fileSize === 15, `one attachment of 15 bytes: ${JSON.stringify(listed.results)}`);
  const downloaded = await client.contentAttachments.downloadAttachment({ id: parent.id, attachmentId: attachment.id });
  check(Buffer.from(downloaded).toString() === 'second version\n', `download has the new data: ${downloaded}`);

  const comment = await client.content.createContent({ type: 'comment', container: { id: parent.id, type: 'page' }, body: storage('<p>Looks right to me.</p>') });
  const comments = await client.contentChildrenAndDescendants.getContentChildrenByType({ id: parent.id, type: 'comment', expand: ['body.storage'] });
  check(comments.results.some((c) => c.id === comment.id && c.body.storage.value.includes('Looks right')), 'comment listed');

  await client.content.deleteContent({ id: child.id });
  seen.afterDelete = await status(client.content.getContentById({ id: child.id }));
  check(seen.afterDelete === 404, `deleted page is 404: ${seen.afterDelete}`);

  seen.parent = parent.id;
  seen.ok = true;
  console.log(JSON.stringify(seen));
} catch (e) {
  console.error(e instanceof Error ? e.stack : JSON.stringify(e));
  console.log(JSON.stringify({ ...seen, ok: false }));
  process.exit(1);
}
