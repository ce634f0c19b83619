// The page tree: a virtualised list of the visible rows (only the rows in view are in the DOM,
// so 10k pages scroll as fast as 10), with expand/collapse, keyboard navigation, drag to move
// or reorder, and a "new child page" button per row.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { TreeNode } from "./api";

const ROW = 30;
const OVERSCAN = 10;

interface Row {
  node: TreeNode;
  depth: number;
  parent: string | null;
  index: number;
}

function flatten(nodes: TreeNode[], open: Set<string>, depth = 0, parent: string | null = null, out: Row[] = []) {
  nodes.forEach((node, index) => {
    out.push({ node, depth, parent, index });
    if (node.children.length && open.has(node.id)) flatten(node.children, open, depth + 1, node.id, out);
  });
  return out;
}

/** The ids on the way down to `id` (its ancestors), or null when it is not in the tree. */
export function pathTo(nodes: TreeNode[], id: string, trail: string[] = []): string[] | null {
  for (const n of nodes) {
    if (n.id === id) return trail;
    const found = pathTo(n.children, id, [...trail, n.id]);
    if (found) return found;
  }
  return null;
}

export interface Drop {
  id: string;
  parent: string | null;
  position?: number;
}

export function Tree(props: {
  tree: TreeNode[];
  current?: string;
  onOpen: (id: string) => void;
  onNewChild: (parent: string | null) => void;
  onMove: (drop: Drop) => void;
}) {
  const { tree, current } = props;
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  const [focus, setFocus] = useState<string | undefined>(current);
  const [dropAt, setDropAt] = useState<{ id: string; where: "before" | "into" | "after" } | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const dragged = useRef<string | null>(null);

  // Reveal the current page: open its ancestors.
  useEffect(() => {
    if (!current) return;
    const trail = pathTo(tree, current);
    if (trail && trail.some((id) => !open.has(id))) setOpen(new Set([...open, ...trail]));
    setFocus(current);
  }, [current, tree]);

  const rows = useMemo(() => flatten(tree, open), [tree, open]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setHeight(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep the current page in view when it changes.
  useEffect(() => {
    const el = box.current;
    const at = rows.findIndex((r) => r.node.id === current);
    if (!el || at < 0) return;
    const top = at * ROW;
    if (top < el.scrollTop || top + ROW > el.scrollTop + el.clientHeight) el.scrollTop = top - el.clientHeight / 3;
  }, [current, rows.length]);

  const first = Math.max(0, Math.floor(scroll / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scroll + height) / ROW) + OVERSCAN);

  const toggle = (id: string) => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };

  const focusRow = (i: number) => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, i))];
    if (!row) return;
    setFocus(row.node.id);
    const el = box.current;
    if (el) {
      const top = rows.indexOf(row) * ROW;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW - el.clientHeight;
    }
    requestAnimationFrame(() => box.current?.querySelector<HTMLElement>(`[data-id="${CSS.escape(row.node.id)}"]`)?.focus());
  };

  const onKey = (e: KeyboardEvent) => {
    const i = rows.findIndex((r) => r.node.id === focus);
    const row = rows[i];
    switch (e.key) {
      case "ArrowDown":
        focusRow(i + 1);
        break;
      case "ArrowUp":
        focusRow(i - 1);
        break;
      case "ArrowRight":
        if (row?.node.children.length && !open.has(row.node.id)) toggle(row.node.id);
        else focusRow(i + 1);
        break;
      case "ArrowLeft":
        if (row && open.has(row.node.id)) toggle(row.node.id);
        else if (row?.parent) focusRow(rows.findIndex((r) => r.node.id === row.parent));
        break;
      case "Home":
        focusRow(0);
        break;
      case "End":
        focusRow(rows.length - 1);
        break;
      case "Enter":
        if (row) props.onOpen(row.node.id);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const where = (e: DragEvent, el: HTMLElement): "before" | "into" | "after" => {
    const r = el.getBoundingClientRect();
    const y = e.clientY - r.top;
    return y < r.height * 0.25 ? "before" : y > r.height * 0.75 ? "after" : "into";
  };

  const drop = (target: Row, at: "before" | "into" | "after") => {
    const id = dragged.current;
    dragged.current = null;
    setDropAt(null);
    if (!id || id === target.node.id) return;
    // Not into itself or below itself.
    if ((pathTo(tree, target.node.id) ?? []).includes(id)) return;
    if (at === "into") {
      props.onMove({ id, parent: target.node.id });
      setOpen(new Set([...open, target.node.id]));
    } else {
      props.onMove({ id, parent: target.parent, position: target.index + (at === "after" ? 1 : 0) });
    }
  };

  return (
    <div
      class="tree"
      ref={box}
      role="tree"
      aria-label="Pages"
      onScroll={(e) => setScroll((e.currentTarget as HTMLElement).scrollTop)}
      onKeyDown={onKey}
    >
      <div style={{ height: rows.length * ROW, position: "relative" }}>
        {rows.slice(first, last).map((row, k) => {
          const n = row.node;
          const i = first + k;
          const hasKids = n.children.length > 0;
          const mark = dropAt?.id === n.id ? ` drop-${dropAt.where}` : "";
          return (
            <div
              key={n.id}
              class={`tree-row${n.id === current ? " current" : ""}${mark}`}
              style={{ top: i * ROW, paddingLeft: 8 + row.depth * 16 }}
              role="treeitem"
              aria-level={row.depth + 1}
              aria-expanded={hasKids ? open.has(n.id) : undefined}
              aria-selected={n.id === current}
              tabIndex={n.id === (focus ?? current ?? rows[0]?.node.id) ? 0 : -1}
              data-id={n.id}
              draggable
              onDragStart={(e) => {
                dragged.current = n.id;
                e.dataTransfer?.setData("text/plain", n.id);
                if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
              }}
              onDragOver={(e) => {
                if (!dragged.current) return;
                e.preventDefault();
                setDropAt({ id: n.id, where: where(e, e.currentTarget as HTMLElement) });
              }}
              onDragLeave={() => setDropAt(null)}
              onDrop={(e) => {
                e.preventDefault();
                drop(row, where(e, e.currentTarget as HTMLElement));
              }}
              onClick={() => {
                setFocus(n.id);
                props.onOpen(n.id);
              }}
            >
              <button
                class="twisty"
                tabIndex={-1}
                aria-hidden="true"
                style={{ visibility: hasKids ? "visible" : "hidden" }}
                onClick={(e) => {
                  e.stopPropagation();
                  toggle(n.id);
                }}
              >
                {open.has(n.id) ? "▾" : "▸"}
              </button>
              <span class="tree-title">{n.title}</span>
              <button
                class="tree-add"
                tabIndex={-1}
                title={`New page under ${n.title}`}
                aria-label={`New page under ${n.title}`}
                onClick={(e) => {
                  e.stopPropagation();
                  props.onNewChild(n.id);
                }}
              >
                +
              </button>
            </div>
          );
        })}
      </div>
    </div>
  );
}
