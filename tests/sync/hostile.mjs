// Malformed and hostile frames: each closes only its own connection; a real client still
// edits afterwards. Prints {ok, closes: [{name, code, reason}]}.
// Usage: node hostile.mjs ws://127.0.0.1:PORT/sync PAGE_ID TOKEN
import WebSocket from 'ws'
import { client, synced, until, report } from './lib.mjs'

const [server, page, token] = process.argv.slice(2)
const url = `${server}/${page}?token=${token}`

const frames = [
  ['garbage', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
  ['unknown message type', Buffer.from([9, 1, 2, 3])],
  ['unknown sync step', Buffer.from([0, 7, 0])],
  ['truncated update', Buffer.from([0, 2, 50, 1, 2, 3])],
  ['update with nonsense', Buffer.from([0, 2, 6, 1, 200, 200, 200, 200, 1])],
  ['client id beyond 2^53', Buffer.from([0, 2, 14, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0])],
  ['awareness that is not JSON', Buffer.from([1, 8, 1, 5, 1, 4, 0x7b, 0x7b, 0x7b, 0x7b])],
  ['a text frame', 'hello']
]

function attack (name, frame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => reject(new Error(`${name}: the connection stayed open`)), 10000)
    ws.on('open', () => ws.send(frame))
    ws.on('close', (code, reason) => { clearTimeout(timer); resolve({ name, code, reason: reason.toString() }) })
    ws.on('error', () => {})
  })
}

async function main () {
  const closes = []
  for (const [name, frame] of frames) closes.push(await attack(name, frame))
  // A huge frame (over the limit) is refused too.
  closes.push(await attack('a 20 MB frame', Buffer.alloc(20 * 1024 * 1024, 0)))
  // The server still serves: a real client joins and edits.
  const ada = client(server, page, token, 'Ada')
  await synced(ada)
  ada.text.insert(0, 'Still here. ')
  const check = client(server, page, token, 'Check')
  await until([check], () => check.text.toString().startsWith('Still here. '), 'a second client sees the edit')
  ada.provider.destroy(); check.provider.destroy()
  report({ ok: true, closes })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
