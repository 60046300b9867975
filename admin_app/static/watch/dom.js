// Small DOM helpers shared by the pages. User text goes in through textContent only.

/** An element with optional text, class, attributes and children. */
export function el(tag, { text = null, cls = null, attrs = null } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== null) node.textContent = text;
  if (cls) node.className = cls;
  if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Show *message* in an error element, or hide it when the message is empty. */
export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}
