import { defineConfig } from "vite";

// The UI is served by `confluence-do serve` (and the desktop app) from ui/dist; during
// development `npm run dev` proxies the API to a server on 127.0.0.1:8787.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 4000 },
  server: { proxy: { "/api": "http://127.0.0.1:8787", "/rest": "http://127.0.0.1:8787" } },
});
