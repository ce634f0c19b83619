// A live edit while the space syncs with git: types a line, says so once the server holds it,
// then waits for `expect` (pulled from the remote) to appear beside it. Prints {ok, text}.
// Usage: node live_edit.mjs ws://127.0.0.1:PORT/sync PAGE_ID TOKEN EXPECT
import { client, until, synced, report } from './lib.mjs'

const [server, page, token, expect] = process.argv.slice(2)

async function main () {
  const me = client(server, page, token, 'Live')
  await synced(me)
  me.text.insert(me.text.length, 'Typed live during the sync.\n')
  // A second client seeing it means the server holds it (relayed only once durable).
  const other = client(server, page, token, 'Watcher')
  await until([other], () => other.text.toString().includes('Typed live during the sync.'), 'the server holds the live edit')
  report({ typed: true })
  await until([me], () => me.text.toString().includes(expect), `the pulled change (${expect}) appears live`, 30000)
  const text = me.text.toString()
  me.provider.destroy(); other.provider.destroy()
  report({ ok: true, text })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
