/**
 * Registers, signs in, posts a record and reads a 422 problem: what the suite runs against a
 * real server (`node dist/examples/smoke.js <base url> <email> <password>`), and an example.
 */
import { ApiError, createClient } from "../src/client.js";

declare const process: { argv: string[] };

async function main(baseUrl: string, email: string, password: string): Promise<void> {
  const anonymous = createClient({ baseUrl, language: "zh-CN" });
  const user = await anonymous.request("post", "/v1/auth/register", {
    body: { email, password },
  });
  const tokens = await anonymous.request("post", "/v1/auth/token", {
    form: { username: email, password },
  });
  const me = createClient({ baseUrl, token: tokens.access_token, language: "zh-CN" });
  const record = await me.request("post", "/v1/events", {
    body: {
      client_event_id: `smoke-${Date.now()}`,
      type: "cycling",
      occurred_at: new Date(Date.now() - 3_600_000).toISOString(),
      data: { distance_km: 4.2, duration_min: 18 },
    },
  });
  let problem: ApiError | undefined;
  try {
    await me.request("post", "/v1/events", {
      body: {
        client_event_id: `smoke-bad-${Date.now()}`,
        type: "cycling",
        occurred_at: new Date().toISOString(),
        data: { distance_km: -1 },
      },
    });
  } catch (error) {
    if (error instanceof ApiError) problem = error;
    else throw error;
  }
  const lines = await me.request("get", "/v1/account/transactions", { query: { limit: 5 } });
  const event = await me.request("get", "/v1/events/{event_id}", {
    path: { event_id: record.id },
  });
  console.log(
    JSON.stringify({
      user: user.id,
      status: record.status,
      points: record.points,
      detail_id: event.id,
      problem: problem && {
        status: problem.status,
        code: problem.problem.code,
        title: problem.problem.title,
        field: problem.problem.errors?.[0]?.field,
      },
      line: lines.items[0]?.description,
    }),
  );
}

const [baseUrl, email, password] = process.argv.slice(2);
if (!baseUrl || !email || !password) throw new Error("usage: smoke.js BASE_URL EMAIL PASSWORD");
await main(baseUrl, email, password);
