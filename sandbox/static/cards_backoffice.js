// "Charge new card" on a back-office order: the card is checked and encrypted in this page with
// the register's public key (card_vault.js, the same code as the register), then only the
// envelope is posted. The plaintext never leaves this function and the inputs are cleared.
import { sealCard, validateCard } from "/core/card_vault.js";

const form = document.getElementById("charge-new-card");

function showErrors(errors) {
    for (const span of form.querySelectorAll("[data-error]")) {
        span.textContent = errors[span.dataset.error] || "";
    }
}

async function publicKey(configId) {
    const response = await fetch("/rpc/offline_card_public_key", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ v: 1, config_id: configId }),
    });
    const body = await response.json();
    if (!response.ok) {
        throw new Error(body.error?.message || "The card key could not be loaded.");
    }
    if (body.result?.unavailable) {
        // The server holds no key it can protect: no card is sealed for it.
        throw new Error(`Card capture is unavailable: ${body.result.unavailable.message}`);
    }
    return body.result;
}

// Told that a card is being charged for this order elsewhere: follow that charge and show
// its result by itself (reload once paid; the button again once it ended unpaid).
async function followOtherCharge(orderUuid, result, button) {
    for (let i = 0; i < 60; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const response = await fetch(`/backoffice/order/${encodeURIComponent(orderUuid)}/charge-state`);
        if (!response.ok) {
            continue;
        }
        const { result: state } = await response.json();
        if (state.state === "paid") {
            window.location.reload();
            return;
        }
        if (!state.charging) {
            result.textContent = "The other charge ended without paying the order: you can charge this card now.";
            button.disabled = false;
            return;
        }
    }
    button.disabled = false;
}

if (form) {
    const result = document.getElementById("charge-result");
    const button = document.getElementById("charge-submit");
    form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const fields = ["number", "expiry", "cvc", "name"].map((f) =>
            document.getElementById(`cc-${f}`)
        );
        const checked = validateCard({
            number: fields[0].value,
            expiry: fields[1].value,
            cvc: fields[2].value,
            name: fields[3].value,
        });
        showErrors(checked.errors);
        if (!checked.ok) {
            return;
        }
        button.disabled = true;
        result.className = "";
        result.textContent = "Charging…";
        try {
            const envelope = await sealCard(checked.card, await publicKey(Number(form.dataset.config)));
            fields[0].value = "";
            fields[2].value = "";
            const response = await fetch(`/backoffice/order/${encodeURIComponent(form.dataset.order)}/charge`, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({
                    payment_uuid: form.dataset.payment,
                    token: form.dataset.token,
                    envelope,
                }),
            });
            const body = await response.json();
            const outcome = body.result || { status: "error", message: body.error?.message };
            result.dataset.status = outcome.status;
            result.textContent = outcome.message || outcome.status;
            if (outcome.status === "succeeded") {
                result.className = "flash ok";
                setTimeout(() => window.location.reload(), 600);
                return;
            }
            result.className = "flash error";
            if (response.status === 409) {
                result.className = "flash";
                followOtherCharge(form.dataset.order, result, button);
                return;
            }
            if (outcome.next) {
                // That card's attempt is final: another card is another payment.
                form.dataset.payment = outcome.next.payment_uuid;
                form.dataset.token = outcome.next.token;
            }
        } catch (error) {
            result.className = "flash error";
            result.dataset.status = "error";
            result.textContent = error.message || "The card could not be charged.";
        }
        button.disabled = false;
    });
}
