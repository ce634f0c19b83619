// The real Yjs client against `confluence-do serve`: concurrent edits converge, a late joiner
// gets the whole text, presence comes and goes, an offline client's edits merge on reconnect,
// a read-only user's edits are refused. Prints one JSON line: {ok, text} or {ok:false, error}.
// Usage: node interop.mjs ws://127.0.0.1:PORT/sync PAGE_ID '{"ada":"cdo_…","bob":"…","rita":"…"}' INITIAL_TEXT
import { client, until, synced, people, report } from './lib.mjs'

const [server, page, tokensJson, initial] = process.argv.slice(2)
const tokens = JSON.parse(tokensJson)
const all = []
const join = (token, name, opts) => { const c = client(server, page, token, name, opts); all.push(c); return c }

async function main () {
  const ada = join(tokens.ada, 'Ada')
  const bob = join(tokens.bob, 'Bob')
  await Promise.all([synced(ada), synced(bob)])
  if (ada.text.toString() !== initial) throw new Error(`Ada's first text: ${JSON.stringify(ada.text.toString())}`)
  if (bob.text.toString() !== initial) throw new Error(`Bob's first text: ${JSON.stringify(bob.text.toString())}`)
  if (ada.doc.getMap('meta').get('id') !== page) throw new Error('the meta map carries the page id')

  // Presence: each sees the other.
  await until([ada, bob], () => people(ada).includes('Bob') && people(bob).includes('Ada'), 'Ada and Bob see each other')

  // Concurrent edits at both ends, in the same tick.
  ada.text.insert(0, 'Ada was here. ')
  bob.text.insert(bob.text.length, 'Bob too.\n')
  await until([ada, bob], () => ada.text.toString() === bob.text.toString() &&
    ada.text.toString().includes('Ada was here. ') && ada.text.toString().includes('Bob too.\n'), 'concurrent edits converge')

  // A late joiner gets everything.
  const late = join(tokens.bob, 'Late')
  await synced(late)
  if (late.text.toString() !== ada.text.toString()) throw new Error('the late joiner has the whole text')

  // Bob leaves: his presence goes.
  bob.provider.destroy()
  await until([ada], () => !people(ada).includes('Bob'), "Bob's presence disappears")

  // Ada goes offline and edits; Late edits meanwhile; Ada reconnects and both edits are kept.
  ada.provider.disconnect()
  await until([ada], () => !ada.provider.wsconnected, 'Ada is offline')
  ada.text.insert(ada.text.length, 'Written offline.\n')
  late.text.insert(0, 'Written online. ')
  try {
    await until([late], () => !people(late).includes('Ada'), "Ada's presence goes while she is offline")
  } catch (e) {
    throw new Error(`${e.message}: ada=${ada.doc.clientID} meta=${JSON.stringify([...late.awareness.meta.entries()])} states=${JSON.stringify([...late.awareness.getStates().entries()])}`)
  }
  ada.provider.connect()
  await until([ada, late], () => ada.text.toString() === late.text.toString() &&
    ada.text.toString().includes('Written offline.\n') && ada.text.toString().includes('Written online. '), 'offline edits merge on reconnect')

  // A reader may read but not write: the server closes the connection that tries.
  const rita = join(tokens.rita, 'Rita')
  await synced(rita)
  if (rita.text.toString() !== ada.text.toString()) throw new Error('the reader reads the text')
  let closed = null
  rita.provider.on('connection-close', (e) => { if (closed === null) closed = e ? e.code : 0 })
  rita.text.insert(0, 'READER EDIT ')
  await until([rita], () => closed !== null, "the reader's connection is closed")
  rita.provider.destroy()
  const check = join(tokens.ada, null)
  await synced(check)
  if (check.text.toString().includes('READER EDIT')) throw new Error("the reader's edit reached the page")
  if (check.text.toString() !== ada.text.toString()) throw new Error('a fresh client sees what Ada sees')

  const text = ada.text.toString()
  for (const c of all) c.provider.destroy()
  report({ ok: true, text, readerClose: closed })
}

main().then(() => process.exit(0), (e) => {
  report({ ok: false, error: String(e && e.stack || e), texts: all.map(c => c.text.toString()) })
  process.exit(1)
})
