// The desktop joined to a team server: edits flow both ways through the desktop's server, the
// team sees the desktop's people, and edits made while the team server is down merge when it is
// back. Talks to the test on stdin/stdout: prints {phase}, waits for a line before going on.
// Usage: node bridge.mjs ws://DESKTOP/sync ws://TEAM/sync PAGE_ID TEAM_TOKEN
import { createInterface } from 'node:readline'
import { client, until, synced, people, report } from './lib.mjs'

const [desktop, team, page, token] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const next = async () => (await lines.next()).value

async function main () {
  const desk = client(desktop, page, null, 'Desk')
  const mate = client(team, page, token, 'Mate')
  await Promise.all([synced(desk), synced(mate)])
  desk.text.insert(0, 'Desk edit. ')
  await until([mate], () => mate.text.toString().includes('Desk edit. '), 'the desktop edit reaches the team server')
  mate.text.insert(mate.text.length, 'Team edit.\n')
  await until([desk], () => desk.text.toString().includes('Team edit.\n'), 'the team edit reaches the desktop')
  await until([mate], () => people(mate).includes('Desk'), 'the team sees who is on the desktop')
  mate.provider.destroy()
  report({ phase: 'online' })
  await next() // the team server was killed
  desk.text.insert(desk.text.length, 'Offline edit.\n')
  report({ phase: 'offline-edited', text: desk.text.toString() })
  await next() // the team server is back
  const back = client(team, page, token, 'Back')
  await until([back, desk], () => back.text.toString().includes('Offline edit.\n') && back.text.toString() === desk.text.toString(), 'the offline edit merges into the team server', 30000)
  const text = back.text.toString()
  desk.provider.destroy(); back.provider.destroy()
  report({ ok: true, text })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
