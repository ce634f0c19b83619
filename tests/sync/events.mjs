// Change events for integrations: an SSE subscriber sees a page created, people joining, a live
// edit with who and where, leaving, the commit, a move and a delete. Prints {ok, events}.
// Usage: node events.mjs http://127.0.0.1:PORT TOKEN
import { client, synced, until, report } from './lib.mjs'

const [http, token] = process.argv.slice(2)
const auth = { Authorization: `Bearer ${token}` }
const events = []
let wake = () => {}

// Subscribes; resolves once the server answered (it subscribes before it answers), then reads.
async function subscribe () {
  const res = await fetch(`${http}/api/v1/events?space=ENG`, { headers: auth })
  if (!res.ok) throw new Error(`events: ${res.status}`)
  return res
}

async function listen (res) {
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += decoder.decode(value, { stream: true })
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).join('')
      if (data) { events.push(JSON.parse(data)); wake() }
    }
  }
}

function waitFor (cond, what, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`)), ms)
    wake = () => { if (cond()) { clearTimeout(timer); resolve() } }
    wake()
  })
}

const has = (type, pred = () => true) => events.some(e => e.type === type && pred(e))

async function api (method, path, body) {
  const r = await fetch(`${http}/api/v1${path}`, {
    method, headers: { ...auth, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined
  })
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
  return r.status === 204 ? null : r.json()
}

async function main () {
  const res = await subscribe()
  listen(res).catch((e) => { events.push({ type: 'error', error: String(e) }); wake() })
  const first = await api('POST', '/spaces/ENG/pages', { title: 'Events', body: 'Text.\n' })
  await waitFor(() => has('page.created', e => e.page === first.id), 'page.created')
  const server = `${http.replace('http://', 'ws://')}/sync`
  const ada = client(server, first.id, token, 'Ada')
  await synced(ada)
  await waitFor(() => has('presence.joined', e => e.page === first.id), 'presence.joined')
  ada.text.insert(5, ' More.')
  await waitFor(() => has('content.changed', e => e.page === first.id && e.position === 5 && e.user && e.user.email === 'ada@example.com'), 'content.changed at 5 by Ada')
  ada.provider.destroy()
  await waitFor(() => has('presence.left') && has('page.updated', e => e.page === first.id), 'presence.left and page.updated')
  await api('POST', `/pages/${first.id}/move`, { parent: null, position: 0 })
  await waitFor(() => has('page.moved', e => e.page === first.id), 'page.moved')
  await api('DELETE', `/pages/${first.id}`)
  await waitFor(() => has('page.deleted', e => e.page === first.id), 'page.deleted')
  report({ ok: true, events: events.map(e => e.type) })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
