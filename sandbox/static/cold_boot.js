// Cold boot offline in the sandbox (issue 11): with offline mode on, the register's page is
// put under the sandbox's service worker (/sw.js), which keeps the page, the unchanged core
// files and the last /api/pos_data for a browser started with no server. Offline mode off:
// the worker is removed, the register loads from the server only.

const SCOPE = "/pos";

/** What this page loaded itself (same origin, GET resources), for the worker to cache. */
function loadedUrls() {
    const urls = new Set([window.location.pathname]);
    for (const entry of performance.getEntriesByType("resource")) {
        const url = new URL(entry.name, window.location.href);
        if (url.origin === window.location.origin) {
            urls.add(url.pathname + url.search);
        }
    }
    return [...urls];
}

async function activeWorker(registration) {
    const worker = registration.installing || registration.waiting;
    if (worker && !registration.active) {
        await new Promise((resolve) => {
            worker.addEventListener("statechange", () => worker.state === "activated" && resolve());
        });
    }
    return registration.active;
}

export async function setupColdBoot(config) {
    const container = navigator.serviceWorker;
    if (!container) {
        return;
    }
    try {
        if (!config.allow_offline_mode) {
            const registration = await container.getRegistration(SCOPE);
            if (registration && new URL(registration.scope).pathname === SCOPE) {
                await registration.unregister();
            }
            return;
        }
        const registration = await container.register("/sw.js", { scope: SCOPE });
        const worker = await activeWorker(registration);
        worker?.postMessage({ cache: loadedUrls() });
    } catch (error) {
        // Without the worker the register still works online; only a cold start is lost.
        console.warn("pos_offline_sync sandbox: no service worker for cold starts", error);
    }
}
