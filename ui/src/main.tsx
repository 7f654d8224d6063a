// The netplugin web UI, served by netmaster at /ui/ on the API's own origin: a login form when the API
// asks for one, then five views chosen by the URL's hash (#topology, #policy, #objects, #trace, #flows).

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { login, messageOf, setToken, signedIn, token, whenUnauthenticated } from "./api.js";
import { Objects } from "./views/Objects.js";
import { Policy } from "./views/Policy.js";
import { Topology } from "./views/Topology.js";
import { Trace } from "./views/Trace.js";
import { Flows } from "./views/Flows.js";
import { ErrorText } from "./errorText.js";

const VIEWS = { topology: Topology, policy: Policy, objects: Objects, trace: Trace, flows: Flows } as const;
type ViewName = keyof typeof VIEWS;

function viewOfHash(): ViewName {
  const h = location.hash.replace(/^#/, "");
  return h in VIEWS ? (h as ViewName) : "topology";
}

function Login(props: { done: () => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      await login(username, password);
      props.done();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <form class="login editor" onSubmit={submit}>
      <h2>Log in to netmaster</h2>
      <label class="field">
        <span>username</span>
        <input name="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>password</span>
        <input name="password" type="password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      </label>
      <ErrorText text={error} />
      <div class="buttons">
        <button type="submit">Log in</button>
      </div>
    </form>
  );
}

function App() {
  const [state, setState] = useState<"checking" | "login" | "in" | string>("checking");
  const [view, setView] = useState<ViewName>(viewOfHash());
  const check = () =>
    signedIn().then(
      (ok) => setState(ok ? "in" : "login"),
      (err) => setState(messageOf(err)),
    );
  useEffect(() => {
    whenUnauthenticated(() => setState("login"));
    const onHash = () => setView(viewOfHash());
    addEventListener("hashchange", onHash);
    void check();
    return () => removeEventListener("hashchange", onHash);
  }, []);
  const View = VIEWS[view];
  return (
    <>
      <header>
        <h1>netplugin</h1>
        {state === "in" && (
          <nav>
            {(Object.keys(VIEWS) as ViewName[]).map((v) => (
              <a href={`#${v}`} class={v === view ? "active" : ""}>
                {v[0]!.toUpperCase() + v.slice(1)}
              </a>
            ))}
            {token() && (
              <button
                class="logout"
                onClick={() => {
                  setToken(null);
                  setState("login");
                }}
              >
                Log out
              </button>
            )}
          </nav>
        )}
      </header>
      <main>
        {state === "checking" && <p>Connecting…</p>}
        {state === "login" && <Login done={() => void check()} />}
        {state === "in" && <View />}
        {state !== "checking" && state !== "login" && state !== "in" && <pre class="error">{state}</pre>}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
