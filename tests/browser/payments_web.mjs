// Drives examples/payments/web/ in chromium through playwright-core (run.sh
// starts the servers). Usage:
//   node payments_web.mjs MODULE_DIR CHROMIUM PAGE_ORIGIN OTHER_ORIGIN API SCREENSHOT
// The page is served from PAGE_ORIGIN, which the API's --cors-origin allows,
// and from OTHER_ORIGIN, which it does not. Checks, each wait bounded:
// - a charge shows success with its transaction id, and the transaction
//   arrives in the live list through the one StreamTransactions call the
//   page opened on load, before the charge;
// - a charge of 0 cents shows the server's INVALID_ARGUMENT message;
// - a second charge arrives live too; a customer change opens a new stream;
// - CORS: the calls were cross-origin, preflighted and allowed for
//   PAGE_ORIGIN; from OTHER_ORIGIN the browser refuses them and the page says so.
// Saves a screenshot of the page to SCREENSHOT.
import { createRequire } from "node:module";
import path from "node:path";

const [moduleDir, chromiumPath, pageOrigin, otherOrigin, api, screenshot] = process.argv.slice(2);
const require = createRequire(path.join(moduleDir, "node_modules", "x.js"));
const { chromium } = require("playwright-core");

const WAIT_MS = 10000;
const SERVICE = `${api}/payments.v1.PaymentService/`;

// The whole run is bounded too; exiting closes the browser playwright launched.
setTimeout(() => {
  console.log("browser: FAIL: the run took over 50 s");
  process.exit(1);
}, 50000).unref();

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "not ok"} - ${what}`);
  if (!ok) failures++;
}

// Network events of a page, as its DevTools protocol reports them: unlike
// playwright's request events, they include CORS preflights and say why a
// request failed.
async function watchNetwork(context, page) {
  const net = { preflights: [], corsErrors: [] };
  const cdp = await context.newCDPSession(page);
  const byId = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.initiator?.type !== "preflight") return;
    const preflight = { method: e.request.method, url: e.request.url, status: 0 };
    byId.set(e.requestId, preflight);
    net.preflights.push(preflight);
  });
  cdp.on("Network.responseReceived", (e) => {
    const preflight = byId.get(e.requestId);
    if (preflight) preflight.status = e.response.status;
  });
  cdp.on("Network.loadingFailed", (e) => {
    if (e.corsErrorStatus) net.corsErrors.push(e.corsErrorStatus.corsError);
  });
  await cdp.send("Network.enable");
  return net;
}

// The API requests a page makes, in order, with their bodies and responses.
function recordApiCalls(page) {
  const calls = [];
  page.on("request", (req) => {
    if (!req.url().startsWith(SERVICE)) return;
    const call = { method: req.url().slice(SERVICE.length), body: req.postDataBuffer(), response: null };
    calls.push(call);
    req.response().then((r) => { call.response = r; }, () => {});
  });
  return calls;
}

async function until(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(`# gave up after ${WAIT_MS} ms waiting for ${what}`);
  return false;
}

async function chargeAndWait(page, amount, state) {
  await page.fill("#amount", amount);
  await page.click("#charge");
  await page.waitForSelector(`#charge-status[data-state="${state}"]`, { timeout: WAIT_MS });
  return (await page.textContent("#charge-status")).trim();
}

// The page's protobuf codec and frame splitter, run in the page on inputs
// the servers do not produce: exact bytes of an encoding (checked by hand
// against the wire format), 64-bit extremes, unknown fields, and frames cut
// at every byte.
async function codecChecks(page) {
  const results = await page.evaluate(async () => {
    const m = await import("./payments.js");
    const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const out = {};
    out.charge = hex(m.encodeMessage(m.ChargeRequest,
      { customerId: "c", amountCents: 300n, currency: "USD", idempotencyKey: "k" }));
    out.negative = hex(m.encodeMessage(m.ChargeRequest, { amountCents: -1n, description: "" }));
    const tx = { id: "txn_é€", customerId: "c", amountCents: 9223372036854775807n, currency: "USD",
                 createdAtUnix: -9223372036854775808n };
    const bytes = m.encodeMessage(m.Transaction, tx);
    // An unknown varint field 9 and length-delimited field 10 before it.
    const withUnknown = new Uint8Array([0x48, 0x96, 0x01, 0x52, 0x02, 0x61, 0x62, ...bytes]);
    const back = m.decodeMessage(m.Transaction, withUnknown);
    out.roundTrip = Object.keys(tx).every((k) => back[k] === tx[k]);
    try {
      m.decodeMessage(m.Transaction, bytes.subarray(0, bytes.length - 1));
      out.truncated = "decoded";
    } catch (err) {
      out.truncated = err.message;
    }
    const frame = (flag, payload) => [flag, 0, 0, (payload.length >> 8) & 255, payload.length & 255, ...payload];
    const stream = new Uint8Array([...frame(0, [1, 2, 3]), ...frame(0, []),
      ...frame(0x80, Array.from(new TextEncoder().encode("grpc-status:0\r\n")))]);
    const describe = (frames) => frames.map((f) => `${f.flag}:${hex(f.payload)}`).join("|");
    const whole = describe(new m.FrameSplitter().push(stream));
    out.frames = whole;
    out.splits = [];
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const s = new m.FrameSplitter();
        const got = [...s.push(stream.subarray(0, i)), ...s.push(stream.subarray(i, j)),
                     ...s.push(stream.subarray(j))];
        if (describe(got) !== whole || s.pending) out.splits.push(`${i},${j}`);
      }
    }
    return out;
  });
  check(results.charge === "0a 01 63 10 ac 02 1a 03 55 53 44 22 01 6b",
    `ChargeRequest encodes as the wire format says: ${results.charge}`);
  check(results.negative === "10 ff ff ff ff ff ff ff ff ff 01 2a 00",
    `a negative int64 takes 10 bytes, a set optional string is sent empty: ${results.negative}`);
  check(results.roundTrip, "a Transaction with int64 extremes and UTF-8 survives a round trip, unknown fields skipped");
  check(/truncated|exceeds/.test(results.truncated), `a truncated message is refused: ${results.truncated}`);
  check(results.frames === "0:01 02 03|0:|128:67 72 70 63 2d 73 74 61 74 75 73 3a 30 0d 0a",
    `frames are read whole: ${results.frames}`);
  check(results.splits.length === 0, `and the same cut in three anywhere (failing cuts: ${results.splits.slice(0, 5)})`);
}

async function allowedOrigin(context) {
  const page = await context.newPage();
  const net = await watchNetwork(context, page);
  const calls = recordApiCalls(page);
  const url = `${pageOrigin}/index.html?api=${encodeURIComponent(api)}&customer=cust_browser`;
  check(new URL(url).origin !== new URL(api).origin, `the page (${pageOrigin}) and the API (${api}) are different origins`);
  await page.goto(url, { timeout: WAIT_MS });
  await codecChecks(page);

  check(await until("the subscription", () => calls.some((c) => c.method === "StreamTransactions")),
    "the page subscribes to StreamTransactions on load");
  check(await page.locator("#transactions li").count() === 0, "the new customer's list starts empty");

  const ok = await chargeAndWait(page, "1250", "ok");
  const txn = await page.getAttribute("#charge-status", "data-transaction-id");
  check(/^Charged: transaction txn_\d+ /.test(ok) && ok.includes(txn), `the charge succeeds: "${ok}"`);
  const item = page.locator(`#transactions li[data-id="${txn}"]`);
  await item.waitFor({ timeout: WAIT_MS });
  check((await item.textContent()).includes("12.50 USD"), `${txn} arrives in the live list with its amount`);

  const bad = await chargeAndWait(page, "0", "error");
  check(bad.includes("INVALID_ARGUMENT: amount_cents must be positive"), `a charge of 0 shows the server's error: "${bad}"`);

  await chargeAndWait(page, "777", "ok");
  const txn2 = await page.getAttribute("#charge-status", "data-transaction-id");
  await page.locator(`#transactions li[data-id="${txn2}"]`).waitFor({ timeout: WAIT_MS });
  const ids = await page.locator("#transactions li").evaluateAll((lis) => lis.map((li) => li.dataset.id));
  check(JSON.stringify(ids) === JSON.stringify([txn2, txn]), `the list holds the two charges, newest first: ${ids}`);

  const order = calls.map((c) => c.method);
  check(order.filter((m) => m === "StreamTransactions").length === 1 && order[0] === "StreamTransactions",
    `one StreamTransactions call, opened before the charges, delivered both: ${order.join(", ")}`);
  check(await page.getAttribute("#live-status", "data-state") === "live", "the stream is still live");

  // CORS, as the browser saw it.
  const charge = calls.find((c) => c.method === "ChargeCard" && c.response);
  const headers = charge ? await charge.response.allHeaders() : {};
  check(headers["access-control-allow-origin"] === pageOrigin,
    `ChargeCard's response allows ${pageOrigin}: ${headers["access-control-allow-origin"]}`);
  check(/grpc-status/.test(headers["access-control-expose-headers"] ?? ""),
    "the response exposes grpc-status");
  const preflighted = net.preflights.filter((p) => p.method === "OPTIONS" && p.status === 204)
    .map((p) => p.url.slice(SERVICE.length));
  check(preflighted.includes("ChargeCard") && preflighted.includes("StreamTransactions"),
    `both methods were preflighted (OPTIONS, 204): ${preflighted.join(", ")}`);

  await page.screenshot({ path: screenshot, fullPage: true });

  // Another customer: a new stream, an empty list.
  await page.fill("#customer", "cust_browser_2");
  await page.press("#customer", "Tab");
  check(await until("the second subscription", () =>
    calls.filter((c) => c.method === "StreamTransactions").length === 2),
  "a customer change opens a new StreamTransactions call");
  const second = calls.filter((c) => c.method === "StreamTransactions")[1];
  check(second?.body?.includes("cust_browser_2"), "for the new customer");
  check(await page.locator("#transactions li").count() === 0, "and the list is the new customer's (empty)");
  await page.close();
}

async function disallowedOrigin(context) {
  const page = await context.newPage();
  const net = await watchNetwork(context, page);
  await page.goto(`${otherOrigin}/index.html?api=${encodeURIComponent(api)}&customer=cust_other`,
    { timeout: WAIT_MS });
  const text = await chargeAndWait(page, "1250", "error");
  check(text.includes("UNAVAILABLE: cannot reach"), `from ${otherOrigin} the charge fails: "${text}"`);
  check(await until("a CORS error", () => net.corsErrors.length > 0),
    `the browser refused it for CORS: ${net.corsErrors.join(", ")}`);
  await page.close();
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  // As root chromium needs --no-sandbox; the rest keep it quiet in a container.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  timeout: 30000,
});
try {
  console.log(`# ${chromiumPath} ${browser.version()}`);
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.on("weberror", (e) => {
    check(false, `no uncaught error in the page: ${e.error().message}`);
  });
  await allowedOrigin(context);
  await disallowedOrigin(context);
} catch (err) {
  check(false, `the run completed: ${err.message}`);
} finally {
  await browser.close();
}
console.log(failures ? `# ${failures} check(s) failed` : "# all checks passed");
process.exit(failures ? 1 : 0);
