// Hash routes (`#/page/123`), so the same build works from the server, a file and the desktop
// app's webview without any server-side routing.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "home" }
  | { name: "space"; key: string }
  | { name: "page"; id: string; anchor?: string }
  | { name: "edit"; id: string }
  | { name: "history"; id: string }
  | { name: "new"; space: string; parent?: string }
  | { name: "search"; q: string; missing?: string }
  | { name: "settings" };

export function parse(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "space":
      return parts[1] ? { name: "space", key: parts[1] } : { name: "home" };
    case "page":
      if (!parts[1]) return { name: "home" };
      if (parts[2] === "edit") return { name: "edit", id: parts[1] };
      if (parts[2] === "history") return { name: "history", id: parts[1] };
      return { name: "page", id: parts[1], anchor: params.get("at") ?? undefined };
    case "new":
      return { name: "new", space: parts[1] ?? "", parent: params.get("parent") ?? undefined };
    case "search":
      return { name: "search", q: params.get("q") ?? "", missing: params.get("missing") ?? undefined };
    case "settings":
      return { name: "settings" };
    default:
      return { name: "home" };
  }
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.name) {
    case "home":
      return "#/";
    case "space":
      return `#/space/${e(route.key)}`;
    case "page":
      return `#/page/${e(route.id)}${route.anchor ? `?at=${e(route.anchor)}` : ""}`;
    case "edit":
      return `#/page/${e(route.id)}/edit`;
    case "history":
      return `#/page/${e(route.id)}/history`;
    case "new":
      return `#/new/${e(route.space)}${route.parent ? `?parent=${e(route.parent)}` : ""}`;
    case "search":
      return `#/search?q=${e(route.q)}${route.missing ? `&missing=${e(route.missing)}` : ""}`;
    case "settings":
      return "#/settings";
  }
}

export function go(route: Route) {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
