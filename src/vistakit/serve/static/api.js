// The two calls the page makes to the server, and readable messages for what can go wrong with them.

/** A failed call: `message` is meant for people; `status` is the HTTP status (0: no answer at all). */
export class ServerError extends Error {
  constructor(message, status, param) {
    super(message);
    this.status = status;
    this.param = param || null;
  }
}

function detailText(detail) {
  // FastAPI's own validation errors: [{loc: [...], msg}, ...]
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new ServerError(`could not reach the server (${err.message})`, 0);
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error;
    let message = `${response.status} ${response.statusText}`;
    if (error && error.message) message = error.message;
    else if (body && body.detail) message = detailText(body.detail);
    else if (text) message = `${message}: ${text.slice(0, 300)}`;
    throw new ServerError(message, response.status, error && error.param);
  }
  if (body === null) throw new ServerError(`the server answered ${url} with something other than JSON`, response.status);
  return body;
}

/**
 * The tasks the server knows: [{name, templates}] from GET /v1/tasks, which may answer {tasks: [...]} or a bare
 * list, each entry {name, prompt_templates | templates, trained} (trained: false for a task the model never
 * learnt, null or absent when the server does not know).
 */
export async function fetchTasks() {
  const body = await call("/v1/tasks", { headers: { Accept: "application/json" } });
  const entries = Array.isArray(body) ? body : body.tasks;
  if (!Array.isArray(entries)) throw new ServerError("GET /v1/tasks: expected a list of tasks", 200);
  return entries
    .filter((t) => t && typeof t.name === "string")
    .map((t) => ({ name: t.name, templates: t.prompt_templates || t.templates || [], trained: t.trained }));
}

/** POST /v1/predict with {images, prompt, task, regions, max_new_tokens}; the parsed answer, or a ServerError. */
export function predict(request) {
  return call("/v1/predict", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(request),
  });
}
