// The official MCP TypeScript SDK as a client of `confluence-do mcp` over stdio: lists the tools,
// calls search, get_page, ask, create_page and check_freshness, and prints what it got as one JSON value.
// Usage: node mcp_client.mjs BINARY HOME
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [binary, home] = process.argv.slice(2);
const transport = new StdioClientTransport({
  command: binary,
  args: ["--home", home, "mcp"],
  env: { ...process.env, CONFLUENCE_DO_USER: "Agent Smith <agent@example.com>" },
});
const client = new Client({ name: "confluence-do-e2e", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const search = await client.callTool({ name: "search", arguments: { query: "rollback", limit: 3 } });
const results = search.structuredContent.results;
const id = (results.find((r) => r.title === "Deployment Guide") ?? results[0]).id;
const page = await client.callTool({ name: "get_page", arguments: { page: id } });
const ask = await client.callTool({ name: "ask", arguments: { question: "Where do secrets live?" } });
const created = await client.callTool({
  name: "create_page",
  arguments: { space: "ENG", title: "Notes from the agent", body: "# Notes\n\nWritten over MCP.\n", parent: id },
});
const missing = await client.callTool({ name: "get_page", arguments: { page: "404404404" } });
const fresh = await client.callTool({ name: "check_freshness", arguments: { space: "ENG" } });
await client.close();
console.log(JSON.stringify({
  server: client.getServerVersion(),
  tools: tools.tools.map((t) => t.name),
  search: search.structuredContent,
  page: page.structuredContent,
  ask: ask.structuredContent,
  created: created.structuredContent,
  missing: { isError: missing.isError, text: missing.content[0].text },
  fresh: fresh.structuredContent,
}));
