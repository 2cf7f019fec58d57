// The sandbox register's service worker (cold boot offline, issue 11): the register page, its
// unchanged core files, OWL, templates and its last /api/pos_data, served network-first with
// the cache as the fallback, so a browser started with no server, or a server that does not
// answer, still opens the register.
// The cache is named after the addon's version (the server writes it in below, from
// static/src/core/version.js): a new version is a new worker, which drops the old caches, so
// core JS from before an upgrade is never served once the new version was loaded online.
/* eslint-env serviceworker */

const VERSION = "__ADDON_VERSION__";
const PREFIX = "pos-offline-sync-sandbox-";
const CACHE = PREFIX + VERSION;
// Never from the cache: every answer of these must be the server's own, or none.
const NETWORK_ONLY = ["/rpc/", "/ping"];

self.addEventListener("install", () => self.skipWaiting());

// Once a newer worker took over, this one writes nothing more: a request or a message it
// still handles must not bring back the cache the newer one has just deleted.
function isCurrent() {
    return !self.serviceWorker || self.registration.active === self.serviceWorker;
}

self.addEventListener("activate", (event) => {
    event.waitUntil(
        (async () => {
            for (const name of await caches.keys()) {
                if (name.startsWith(PREFIX) && name !== CACHE) {
                    await caches.delete(name);
                }
            }
            await self.clients.claim();
        })(),
    );
});

function cacheable(request) {
    const url = new URL(request.url);
    return (
        request.method === "GET" &&
        url.origin === self.location.origin &&
        !NETWORK_ONLY.some((part) => url.pathname.startsWith(part))
    );
}

// A server that takes the connection and never answers (hung, or a captive network) must not
// keep the register from opening: past a wait the cached copy answers, and for SLOW_MS after
// that the files (not the data, not the page) come from the cache at once while the network
// still refreshes them behind. The page and the data wait longer: a server slow but up (a
// large catalog, a busy machine) must still give the register its current prices and code.
const FILE_WAIT_MS = 4000;
const PAGE_AND_DATA_WAIT_MS = 10000;
const SLOW_MS = 30000;
let slowUntil = 0;

function waitFor(request) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/api/") || request.mode === "navigate") {
        return PAGE_AND_DATA_WAIT_MS;
    }
    return Date.now() < slowUntil ? 0 : FILE_WAIT_MS;
}

async function cachedCopy(request) {
    // caches.open creates a missing cache: opened only to write (while current) or once known.
    if (!(await caches.has(CACHE))) {
        return undefined;
    }
    return (await caches.open(CACHE)).match(request, { ignoreVary: true });
}

async function networkFirst(event) {
    const request = event.request;
    const network = fetch(request).then(async (response) => {
        slowUntil = 0; // the server answers again: network first for everything
        if (response.ok && isCurrent()) {
            await (await caches.open(CACHE)).put(request, response.clone());
        }
        return response;
    });
    // The network's late answer still reaches the cache after the page got the cached copy.
    event.waitUntil(network.catch(() => undefined));
    let timer;
    const waited = new Promise((resolve) => {
        timer = setTimeout(resolve, waitFor(request));
    });
    try {
        const first = await Promise.race([
            network.then((response) => ({ response })),
            waited.then(() => null),
        ]);
        if (first) {
            return first.response;
        }
        const cached = await cachedCopy(request);
        if (cached) {
            slowUntil = Date.now() + SLOW_MS;
            return cached;
        }
        return await network; // nothing cached: the network's answer, however late
    } catch (error) {
        const cached = await cachedCopy(request);
        if (cached) {
            return cached;
        }
        throw error;
    } finally {
        clearTimeout(timer);
    }
}

self.addEventListener("fetch", (event) => {
    if (cacheable(event.request)) {
        event.respondWith(networkFirst(event));
    }
});

// The page lists what it loaded before this worker controlled it (its first load): cached
// here, so that load alone is enough for a cold start.
self.addEventListener("message", (event) => {
    const urls = event.data?.cache;
    if (!Array.isArray(urls) || !isCurrent()) {
        return;
    }
    event.waitUntil(
        (async () => {
            const cache = await caches.open(CACHE);
            for (const url of urls) {
                const request = new Request(url);
                if (!cacheable(request) || (await cache.match(request))) {
                    continue;
                }
                try {
                    await cache.add(request);
                } catch {
                    // Gone offline meanwhile: the next online load caches it.
                }
            }
            event.source?.postMessage({ cached: urls.length, version: VERSION });
        })(),
    );
});
