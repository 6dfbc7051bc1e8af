// A queue_patch turns the queue body a socket last received into the next one (docs/api.md,
// "queue_patch"; built by echonest/queue_patch.py). Returns null when `body` is not the patch's base.
export function applyQueuePatch(body, patch) {
  if (!body || !patch || !Array.isArray(body.queue) || body.version !== patch.base) return null;
  const byId = new Map(body.queue.map((item) => [item.id, item]));
  for (const item of patch.items || []) byId.set(item.id, item);
  let queue;
  if (Array.isArray(patch.order)) {
    queue = [];
    for (const part of patch.order) {
      if (Array.isArray(part)) {
        for (const item of body.queue.slice(part[0], part[1])) queue.push(byId.get(item.id));
      } else if (byId.has(part)) queue.push(byId.get(part));
      else return null;
    }
  } else queue = body.queue.map((item) => byId.get(item.id));
  const next = { ...body };
  for (const [key, value] of Object.entries(patch)) {
    if (key !== "base" && key !== "items" && key !== "order") next[key] = value;
  }
  next.queue = queue;
  return next;
}
