// The page's credential: a short-lived client session minted by our own backend (server.py),
// which holds the secret API key. The page never sees that key.

export interface Session {
  token: string;
  expiresAt: string;
  scopes: string[];
  livemode: boolean;
  apiUrl: string;
  wsUrl: string;
}

export async function mintSession(): Promise<Session> {
  const response = await fetch("/session", {
    method: "POST",
    headers: { "x-requested-with": "payouts-dashboard" },
  });
  if (!response.ok) {
    throw new Error(`could not start a session (HTTP ${response.status})`);
  }
  return (await response.json()) as Session;
}

export async function addTestFunds(amount: number): Promise<void> {
  const response = await fetch("/demo/credit", {
    method: "POST",
    headers: { "content-type": "application/json", "x-requested-with": "payouts-dashboard" },
    body: JSON.stringify({ amount }),
  });
  if (!response.ok) {
    throw new Error(`could not add test funds (HTTP ${response.status})`);
  }
}
