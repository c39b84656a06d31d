// Loaded with `node --import` ahead of the Fedify peer. The peer reports the inbox POSTs it
// receives but not the GETs it serves; this prints one line per GET with its signature
// headers, so a test can see whether the fetcher signed its request.
import http from "node:http";

const createServer = http.createServer;
http.createServer = function (...args) {
  const server = createServer.apply(this, args);
  server.prependListener("request", (req) => {
    if (req.method !== "GET" || req.url.startsWith("/_peer/")) return;
    const fetch = {
      path: req.url,
      signature: req.headers["signature"] ?? null,
      signatureInput: req.headers["signature-input"] ?? null,
      accept: req.headers["accept"] ?? null,
    };
    console.log(`[peer-fetch] ${JSON.stringify(fetch)}`);
  });
  return server;
};
