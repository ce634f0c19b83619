// Typing while the server is killed: Ada types at the end of the page, Bob watches. Prints
// {"progress": n} as Bob receives characters; when the connection drops, prints what Bob had
// received ({received}) and exits.
// Usage: node crash.mjs ws://127.0.0.1:PORT/sync PAGE_ID TOKEN
import { client, synced, report } from './lib.mjs'

const [server, page, token] = process.argv.slice(2)

async function main () {
  const ada = client(server, page, token, 'Ada')
  const bob = client(server, page, token, 'Bob')
  await Promise.all([synced(ada), synced(bob)])
  const start = bob.text.length
  let n = 0
  let lastReport = 0
  const typing = setInterval(() => {
    if (!ada.provider.wsconnected) return
    ada.text.insert(ada.text.length, String.fromCharCode(97 + (n++ % 26)))
  }, 2)
  bob.text.observe(() => {
    const got = bob.text.length - start
    if (got - lastReport >= 50) { lastReport = got; report({ progress: got }) }
  })
  await new Promise((resolve) => {
    bob.provider.on('status', ({ status }) => { if (status === 'disconnected') resolve() })
  })
  clearInterval(typing)
  const received = bob.text.toString()
  ada.provider.destroy(); bob.provider.destroy()
  report({ ok: true, received, typed: n })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
