// Changes from outside reach people editing live: an API PUT and an edit of the file on disk
// appear in the live document as they happen, and the live edit made meanwhile stays.
// Usage: node outside.mjs ws://127.0.0.1:PORT/sync http://127.0.0.1:PORT PAGE_ID TOKEN FILE
import { readFileSync, writeFileSync } from 'node:fs'
import { client, until, synced, report } from './lib.mjs'

const [server, http, page, token, file] = process.argv.slice(2)
const auth = { Authorization: `Bearer ${token}` }

async function main () {
  const ada = client(server, page, token, 'Ada')
  await synced(ada)
  ada.text.insert(ada.text.length, 'Live line.\n')

  // The API saves a new first line, based on the file (which does not have the live line yet).
  const got = await (await fetch(`${http}/api/v1/pages/${page}`, { headers: auth })).json()
  const body = got.markdown.replace('First line.', 'First line, edited by the API.')
  const put = await fetch(`${http}/api/v1/pages/${page}`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ body, baseVersion: got.version })
  })
  if (!put.ok) throw new Error(`PUT: ${put.status} ${await put.text()}`)
  await until([ada], () => ada.text.toString().includes('First line, edited by the API.'), 'the API edit appears live')

  // Someone edits the file on disk.
  const onDisk = readFileSync(file, 'utf8').replace('Second line.', 'Second line, edited on disk.')
  writeFileSync(file, onDisk)
  await until([ada], () => ada.text.toString().includes('Second line, edited on disk.'), 'the disk edit appears live')
  if (!ada.text.toString().includes('Live line.\n')) throw new Error(`the live edit was lost: ${ada.text.toString()}`)
  const text = ada.text.toString()
  ada.provider.destroy()
  report({ ok: true, text })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
