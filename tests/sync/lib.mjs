// Helpers for the sync tests: a real Yjs client (yjs + y-websocket over `ws`) and waiting for
// a condition on document or presence events (with a deadline, never a fixed sleep).
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

export function client (server, room, token, name, opts = {}) {
  const doc = new Y.Doc()
  const params = token ? { token } : {}
  const provider = new WebsocketProvider(server, room, doc, {
    WebSocketPolyfill: WebSocket,
    params,
    connect: opts.connect !== false,
    disableBc: true,
    maxBackoffTime: 200
  })
  if (name) provider.awareness.setLocalStateField('user', { name, color: '#30bced' })
  const text = doc.getText('content')
  return { doc, provider, text, name, awareness: provider.awareness }
}

// Resolves once `cond()` holds, re-checking on every document, presence and connection event
// of the given clients; fails with `what` after `ms`.
export function until (clients, cond, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const offs = []
    let done = false
    const check = () => {
      if (done) return
      let ok = false
      try { ok = cond() } catch (e) { ok = false }
      if (ok) {
        done = true
        clearTimeout(timer)
        offs.forEach(f => f())
        resolve()
      }
    }
    const timer = setTimeout(() => {
      done = true
      offs.forEach(f => f())
      reject(new Error(`timed out waiting for: ${what}`))
    }, ms)
    for (const c of clients) {
      c.doc.on('update', check)
      c.awareness.on('change', check)
      c.provider.on('status', check)
      c.provider.on('sync', check)
      offs.push(() => {
        c.doc.off('update', check)
        c.awareness.off('change', check)
        c.provider.off('status', check)
        c.provider.off('sync', check)
      })
    }
    check()
  })
}

export function synced (c, ms) {
  return until([c], () => c.provider.synced, `${c.name || 'client'} synced`, ms)
}

export function people (c) {
  return [...c.awareness.getStates().entries()]
    .filter(([id, s]) => id !== c.doc.clientID && s && s.user)
    .map(([, s]) => s.user.name)
    .sort()
}

export function report (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}
