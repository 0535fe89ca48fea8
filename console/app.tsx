import { useEffect, useMemo, useState } from 'preact/hooks';
import { StockflowClient, type ConnectionState } from '../client/index.ts';
import { AvailabilityGrid, LocationAvailability } from './availability-grid.tsx';
import { ApiError, ConsoleApi, type Session } from './console-api.ts';
import { LocationPanel } from './location-panel.tsx';
import { OrdersPanel } from './orders-panel.tsx';
import { RateCharts } from './rate-charts.tsx';

/** The key stays for this tab only (sessionStorage), so a reload keeps the operator signed in. */
const KEY_ITEM = 'stockflow.console.key';

function SignIn(props: { onSignedIn: (api: ConsoleApi, session: Session, key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (e: Event): void => {
    e.preventDefault();
    const trimmed = key.trim();
    if (trimmed.length === 0) return;
    setBusy(true);
    setError(null);
    const api = new ConsoleApi(location.origin, trimmed);
    api
      .session()
      .then((session) => {
        sessionStorage.setItem(KEY_ITEM, trimmed);
        props.onSignedIn(api, session, trimmed);
      })
      .catch((err: unknown) => {
        setError(
          err instanceof ApiError && err.status === 401
            ? 'This key is not known to the server.'
            : `Sign-in failed: ${String(err)}`,
        );
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Stockflow console</h1>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => {
            setKey(e.currentTarget.value);
          }}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="error" role="alert">
          {error ?? ''}
        </p>
        <p class="muted">What you see follows the key's role: admin keys see everything.</p>
      </form>
    </main>
  );
}

/** The live parts for keys that may read availability: one WebSocket through the client. */
function LiveParts(props: {
  session: Session;
  apiKey: string;
  onState: (s: ConnectionState) => void;
}) {
  const { session, apiKey, onState } = props;
  const client = useMemo(
    () => new StockflowClient({ url: location.origin, apiKey, encoding: 'msgpack' }),
    [apiKey],
  );
  useEffect(() => {
    const listener = (s: { state: ConnectionState }): void => {
      onState(s.state);
    };
    client.on('state', listener);
    return () => {
      void client.close();
    };
  }, [client, onState]);
  const [selected, setSelected] = useState<string | null>(session.skus[0] ?? null);
  return (
    <>
      <AvailabilityGrid
        client={client}
        skus={session.skus}
        channels={session.channels}
        selected={selected}
        onSelect={setSelected}
      />
      <LocationAvailability
        client={client}
        sku={selected}
        channels={session.channels}
        locations={session.locations}
      />
    </>
  );
}

function Dashboard(props: {
  api: ConsoleApi;
  session: Session;
  apiKey: string;
  onSignOut: () => void;
}) {
  const { api, session, apiKey } = props;
  const [state, setState] = useState<ConnectionState | 'none'>('none');
  const admin = session.role === 'admin';
  const live = session.channels.length > 0;
  return (
    <div class="app">
      <header class="top">
        <h1>Stockflow console</h1>
        <span class="who">
          {session.name} · <strong>{session.role}</strong>
          {session.channel !== null ? ` · ${session.channel}` : ''}
          {session.location !== null ? ` · ${session.location}` : ''}
        </span>
        {live && (
          <span class={`conn conn-${state}`} role="status" aria-live="polite">
            {state === 'none' ? 'connecting' : state}
          </span>
        )}
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main class="panels">
        {live && <LiveParts session={session} apiKey={apiKey} onState={setState} />}
        {admin && <RateCharts api={api} />}
        {session.orders && session.role !== 'storefront' && (
          <LocationPanel api={api} locations={session.locations} />
        )}
        {session.orders && session.role !== 'location' && <OrdersPanel api={api} />}
      </main>
    </div>
  );
}

interface SignedIn {
  readonly api: ConsoleApi;
  readonly session: Session;
  readonly key: string;
}

export function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [resuming, setResuming] = useState(() => sessionStorage.getItem(KEY_ITEM) !== null);
  useEffect(() => {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (key === null) return;
    const api = new ConsoleApi(location.origin, key);
    api
      .session()
      .then((session) => {
        setSignedIn({ api, session, key });
      })
      .catch(() => {
        sessionStorage.removeItem(KEY_ITEM);
      })
      .finally(() => {
        setResuming(false);
      });
  }, []);
  if (resuming && signedIn === null) return <p class="boot">Signing in…</p>;
  if (signedIn === null) {
    return (
      <SignIn
        onSignedIn={(api, session, key) => {
          setSignedIn({ api, session, key });
        }}
      />
    );
  }
  return (
    <Dashboard
      api={signedIn.api}
      session={signedIn.session}
      apiKey={signedIn.key}
      onSignOut={() => {
        sessionStorage.removeItem(KEY_ITEM);
        setSignedIn(null);
      }}
    />
  );
}
