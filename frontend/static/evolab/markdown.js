// A run's notes as Markdown, rendered safely: every character of the source ends up in a
// text node (never parsed as HTML: "<script>" shows as those characters), and only these
// forms become elements: # to ### headings, paragraphs (a line break stays one), - * + and
// 1. lists, > quotes, ``` code blocks, `code`, **bold**, *italic* or _italic_, and links,
// [text](url) or a bare http(s) URL, whose address must be http, https or mailto.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const INLINE = /`([^`\n]+)`|\*\*(.+?)\*\*|\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;
const HEADING = /^(#{1,3})\s+(.*)$/;
const ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const FENCE = /^\s{0,3}```/;

function el(tag, ...children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

function safeUrl(raw) {
  try {
    const url = new URL(raw, window.location.href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(text, raw, whole) {
  const href = safeUrl(raw);
  if (!href) return [document.createTextNode(whole)];
  const a = el("a", ...inline(text));
  a.href = href;
  a.rel = "noopener noreferrer nofollow";
  return [a];
}

// Text with the inline forms, as a list of nodes.
export function inline(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    const [whole, code, bold, star, under, label, url, bare] = m;
    if (code !== undefined) out.push(el("code", code));
    else if (bold !== undefined) out.push(el("strong", ...inline(bold)));
    else if (star !== undefined || under !== undefined) out.push(el("em", ...inline(star ?? under)));
    else if (label !== undefined) out.push(...link(label, url, whole));
    else out.push(...link(bare, bare, whole));
    at = m.index + whole.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

function withBreaks(lines) {
  const out = [];
  lines.forEach((line, i) => {
    if (i) out.push(el("br"));
    out.push(...inline(line));
  });
  return out;
}

// The source's blocks, as a list of elements.
export function blocks(source) {
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i += 1; continue; }
    if (FENCE.test(line)) {
      const code = [];
      for (i += 1; i < lines.length && !FENCE.test(lines[i]); i += 1) code.push(lines[i]);
      out.push(el("pre", el("code", code.join("\n"))));
      i += 1;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      out.push(el(`h${heading[1].length + 2}`, ...inline(heading[2])));
      i += 1;
      continue;
    }
    if (ITEM.test(line)) {
      const ordered = /\d/.test(ITEM.exec(line)[1]);
      const list = el(ordered ? "ol" : "ul");
      for (let m; i < lines.length && (m = ITEM.exec(lines[i])) && /\d/.test(m[1]) === ordered; i += 1) {
        list.append(el("li", ...inline(m[2])));
      }
      out.push(list);
      continue;
    }
    const taken = [];
    const quote = QUOTE.test(line);
    for (; i < lines.length && lines[i].trim(); i += 1) {
      const l = lines[i];
      if (quote !== QUOTE.test(l) || (!quote && (FENCE.test(l) || HEADING.test(l) || ITEM.test(l)))) break;
      taken.push(quote ? QUOTE.exec(l)[1] : l);
    }
    out.push(quote ? el("blockquote", el("p", ...withBreaks(taken))) : el("p", ...withBreaks(taken)));
  }
  return out;
}

export function renderMarkdown(target, source) {
  target.replaceChildren(...blocks(source));
}
