// Seeded random Yjs peers against the real server: editing, disconnecting and reconnecting in a
// random order, editing while offline. At the end every peer holds the same text. Prints {ok, text}.
// Usage: node converge.mjs ws://127.0.0.1:PORT/sync PAGE_ID TOKEN SEED
import { client, until, synced, report } from './lib.mjs'

const [server, page, token, seedArg] = process.argv.slice(2)
let seed = Number(seedArg) >>> 0
// mulberry32
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (n) => Math.floor(random() * n)
const words = ['a', 'é', '日本', 'line\n', ' ', 'word', '🙂', '# heading\n']

async function main () {
  const peers = [0, 1, 2, 3].map(i => client(server, page, token, `Peer ${i}`))
  await Promise.all(peers.map(p => synced(p)))
  for (let step = 0; step < 400; step++) {
    const p = peers[pick(peers.length)]
    const r = random()
    if (r < 0.08) {
      if (p.provider.shouldConnect) p.provider.disconnect(); else p.provider.connect()
    } else if (r < 0.7) {
      const len = p.text.length
      if (len > 0 && random() < 0.35) {
        const at = pick(len)
        p.text.delete(at, Math.min(1 + pick(6), len - at))
      } else {
        p.text.insert(pick(len + 1), words[pick(words.length)])
      }
    } else {
      // Let the network move (frames in flight arrive in whatever order the sockets give).
      await new Promise(resolve => setImmediate(resolve))
    }
  }
  for (const p of peers) if (!p.provider.shouldConnect) p.provider.connect()
  await until(peers, () => peers.every(p => p.provider.synced && p.text.toString() === peers[0].text.toString()), 'all peers converge', 30000)
  const text = peers[0].text.toString()
  for (const p of peers) p.provider.destroy()
  report({ ok: true, text })
}

main().then(() => process.exit(0), (e) => { report({ ok: false, error: String(e && e.stack || e) }); process.exit(1) })
