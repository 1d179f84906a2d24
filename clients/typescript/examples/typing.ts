/**
 * What the compiler refuses: each line below must be a type error (tsc fails on an unused
 * `@ts-expect-error`), so the types stay as strict as the document.
 */
import { createClient } from "../src/client.js";

const api = createClient({ baseUrl: "http://127.0.0.1:8000" });

export async function refused(): Promise<void> {
  // @ts-expect-error: no such path
  await api.request("get", "/v1/nowhere");
  // @ts-expect-error: the method is not offered on this path
  await api.request("delete", "/v1/account");
  // @ts-expect-error: a record needs its body
  await api.request("post", "/v1/events", {});
  // @ts-expect-error: occurred_at is a string (RFC 3339), not unix seconds
  await api.request("post", "/v1/events", { body: { client_event_id: "a", type: "cycling", occurred_at: 1700000000, data: {} } });
  // @ts-expect-error: the path parameter is required
  await api.request("get", "/v1/events/{event_id}", {});
  const account = await api.request("get", "/v1/account");
  // @ts-expect-error: the account has no such field
  account.nothing;
  const lines = await api.request("get", "/v1/account/transactions");
  const kind:
    | "credit"
    | "debt_repayment"
    | "hold"
    | "settle"
    | "release"
    | "reversal"
    | "expiry"
    | "donation" =
    lines.items[0]!.kind;
  void kind;
}
