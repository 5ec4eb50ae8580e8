import "./style.css";
import type { CombinedError } from "@urql/core";
import { connect, trusted, type Connection } from "./client";
import {
  AccountUpdatedSubscription,
  AddBankAccountMutation,
  BalanceUpdatedSubscription,
  BankAccountsQuery,
  CompleteVerificationMutation,
  DashboardQuery,
  PayoutsQuery,
  PayoutUpdatedSubscription,
  RequestPayoutMutation,
} from "./operations";
import type {
  AccountFieldsFragment,
  BalanceFieldsFragment,
  PayoutFieldsFragment,
} from "./gql/graphql";
import { addTestFunds, mintSession, type Session } from "./session";

const PAGE_SIZE = 5;

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`missing ${selector}`);
  return found;
};

function money(cents: number, currency = "usd"): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(cents / 100);
}

function text(tag: string, value: string, attributes: Record<string, string> = {}): HTMLElement {
  const element = document.createElement(tag);
  element.textContent = value;
  for (const [name, attribute] of Object.entries(attributes)) element.setAttribute(name, attribute);
  return element;
}

// Live state: the last event cursor of each stream, so a new connection resumes after it.
const cursors: { payouts?: string; balance?: string; account?: string } = {};
let session: Session | undefined;
let connection: Connection | undefined;
let subscriptions: { unsubscribe(): void }[] = [];
let pageCursors: (string | null)[] = [null];
let payoutsOnPage: PayoutFieldsFragment[] = [];

function setStatus(state: string, detail = ""): void {
  const status = $("#connection");
  status.dataset.state = state;
  status.textContent = detail ? `${state} (${detail})` : state;
}

function showError(error: CombinedError | Error | undefined): void {
  $("#error").textContent = error ? error.message : "";
}

async function start(): Promise<void> {
  setStatus("connecting");
  session = await mintSession();
  connection?.close();
  connection = connect(session, (code, reason) => {
    setStatus("disconnected", `${code} ${reason}`.trim());
    // 4403: the session expired or was revoked. Either way: a fresh session, same cursors.
    window.setTimeout(() => void reconnect(), code === 4403 ? 0 : 1000);
  });
  $("#session-expires").textContent = new Date(session.expiresAt).toLocaleTimeString();
  await Promise.all([loadDashboard(), loadBankAccounts(), loadPayouts(pageCursors.at(-1) ?? null)]);
  subscribeLive();
  setStatus("live");
}

async function reconnect(): Promise<void> {
  for (const subscription of subscriptions) subscription.unsubscribe();
  subscriptions = [];
  try {
    await start();
  } catch (error) {
    setStatus("offline", (error as Error).message);
    window.setTimeout(() => void reconnect(), 2000);
  }
}

function client() {
  if (!connection) throw new Error("not connected");
  return connection.client;
}

async function loadDashboard(): Promise<void> {
  const result = await client().query(trusted(DashboardQuery), {}).toPromise();
  showError(result.error);
  if (!result.data) return;
  const { viewer, payoutAccount, balance } = result.data;
  $("#org-name").textContent = viewer.organization.name;
  $("#mode").textContent = viewer.livemode ? "live" : "test";
  renderAccount(payoutAccount ?? null);
  renderBalance(balance);
}

function renderAccount(account: AccountFieldsFragment | null): void {
  $("#onboarding-form").hidden = account !== null;
  $("#account-summary").hidden = account === null;
  if (account) {
    $("#account-status").textContent = account.status;
    $("#account-status").dataset.status = account.status;
    $("#account-email").textContent = account.email;
    $("#transfers").textContent = account.transfersEnabled ? "enabled" : "not yet enabled";
  }
}

function renderBalance(balance: BalanceFieldsFragment): void {
  for (const key of ["available", "pending", "inTransit", "paidOut"] as const) {
    const cell = $(`[data-balance="${key}"]`);
    cell.textContent = money(balance[key], balance.currency);
    cell.dataset.cents = String(balance[key]);
  }
}

async function loadBankAccounts(): Promise<void> {
  const result = await client().query(trusted(BankAccountsQuery), {}).toPromise();
  showError(result.error);
  const list = $("#bank-accounts");
  list.replaceChildren();
  for (const { node } of result.data?.bankAccounts.edges ?? []) {
    const item = text("li", `${node.bankName ?? "Bank"} ••${node.last4} — ${node.accountHolderName}`);
    item.dataset.testid = "bank-account";
    if (node.isDefault) item.append(" ", text("span", "default", { class: "badge" }));
    list.append(item);
  }
}

async function loadPayouts(after: string | null): Promise<void> {
  const result = await client()
    .query(trusted(PayoutsQuery), { first: PAGE_SIZE, after })
    .toPromise();
  showError(result.error);
  if (!result.data) return;
  const { edges, pageInfo } = result.data.payouts;
  payoutsOnPage = edges.map((edge) => edge.node);
  renderPayouts();
  $<HTMLButtonElement>("#next-page").disabled = !pageInfo.hasNextPage;
  $<HTMLButtonElement>("#next-page").dataset.after = pageInfo.endCursor ?? "";
  $<HTMLButtonElement>("#previous-page").disabled = pageCursors.length <= 1;
  $("#page-number").textContent = String(pageCursors.length);
}

function renderPayouts(): void {
  const body = $("#payouts tbody");
  body.replaceChildren();
  for (const payout of payoutsOnPage) {
    const row = document.createElement("tr");
    row.dataset.payoutId = payout.id;
    row.append(
      text("td", new Date(payout.createdAt).toLocaleString()),
      text("td", money(payout.amount, payout.currency)),
      text("td", payout.description ?? ""),
      text("td", payout.status, { "data-testid": "payout-status", "data-status": payout.status }),
    );
    body.append(row);
  }
}

function upsertPayout(payout: PayoutFieldsFragment): void {
  const index = payoutsOnPage.findIndex((p) => p.id === payout.id);
  if (index >= 0) {
    payoutsOnPage[index] = payout;
  } else if (pageCursors.length === 1) {
    payoutsOnPage = [payout, ...payoutsOnPage].slice(0, PAGE_SIZE);
  }
  renderPayouts();
}

function subscribeLive(): void {
  const live = client();
  subscriptions.push(
    live
      .subscription(trusted(PayoutUpdatedSubscription), { after: cursors.payouts ?? null })
      .subscribe((result) => {
        const event = result.data?.payoutUpdated;
        if (event) {
          cursors.payouts = event.cursor;
          upsertPayout(event.payout);
        }
      }),
    live
      .subscription(trusted(BalanceUpdatedSubscription), { after: cursors.balance ?? null })
      .subscribe((result) => {
        const event = result.data?.balanceUpdated;
        if (event) {
          cursors.balance = event.cursor;
          renderBalance(event.balance);
        }
      }),
    live
      .subscription(trusted(AccountUpdatedSubscription), { after: cursors.account ?? null })
      .subscribe((result) => {
        const event = result.data?.payoutAccountUpdated;
        if (event) {
          cursors.account = event.cursor;
          renderAccount(event.payoutAccount);
        }
      }),
  );
}

// userErrors carry the input path of the field they are about (["input", "amount"]): each is
// shown next to that field; the rest above the form.
interface FieldError {
  code: string;
  message: string;
  field?: readonly string[] | null;
}

function showUserErrors(form: HTMLFormElement, errors: readonly FieldError[]): void {
  for (const slot of form.querySelectorAll<HTMLElement>("[data-error-for]")) slot.textContent = "";
  for (const error of errors) {
    const name = error.field?.at(-1) ?? "";
    const slot =
      form.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(name)}"]`) ??
      form.querySelector<HTMLElement>('[data-error-for=""]');
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${error.message}` : error.message;
      slot.dataset.code = error.code;
    }
  }
}

function formValue(form: HTMLFormElement, name: string): string {
  return String(new FormData(form).get(name) ?? "").trim();
}

function wireForms(): void {
  const onboarding = $<HTMLFormElement>("#onboarding-form");
  onboarding.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await client()
      .mutation(trusted(CompleteVerificationMutation), {
        input: {
          email: formValue(onboarding, "email"),
          businessType: "INDIVIDUAL",
          businessUrl: formValue(onboarding, "businessUrl"),
          // Test mode: this reserved host stands for a valid identity document.
          documentUrl: "https://docs.sandbox.test/passport.png",
          bank: {
            accountNumber: formValue(onboarding, "accountNumber"),
            accountHolderName: `${formValue(onboarding, "firstName")} ${formValue(onboarding, "lastName")}`,
            routingNumber: "110000000",
          },
          individual: {
            firstName: formValue(onboarding, "firstName"),
            lastName: formValue(onboarding, "lastName"),
            phone: "+14155550100",
            dateOfBirth: "1990-01-15",
            ssnLast4: "0000",
            address: {
              line1: "510 Townsend St",
              city: "San Francisco",
              state: "CA",
              postalCode: "94103",
              country: "US",
            },
          },
        },
      })
      .toPromise();
    showError(result.error);
    const payload = result.data?.completeVerification;
    if (!payload) return;
    showUserErrors(onboarding, payload.userErrors);
    if (payload.payoutAccount) {
      renderAccount(payload.payoutAccount);
      await loadBankAccounts();
    }
  });

  const bankForm = $<HTMLFormElement>("#bank-form");
  bankForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await client()
      .mutation(trusted(AddBankAccountMutation), {
        input: {
          accountNumber: formValue(bankForm, "accountNumber"),
          accountHolderName: formValue(bankForm, "accountHolderName"),
          routingNumber: "110000000",
          setDefault: new FormData(bankForm).get("setDefault") === "on",
        },
      })
      .toPromise();
    showError(result.error);
    const payload = result.data?.addBankAccount;
    if (!payload) return;
    showUserErrors(bankForm, payload.userErrors);
    if (payload.bankAccount) {
      bankForm.reset();
      await loadBankAccounts();
    }
  });

  const payoutForm = $<HTMLFormElement>("#payout-form");
  payoutForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const amount = Math.round(Number(formValue(payoutForm, "amount")) * 100);
    const result = await client()
      .mutation(trusted(RequestPayoutMutation), {
        input: {
          amount: Number.isFinite(amount) ? amount : 0,
          description: formValue(payoutForm, "description") || null,
          idempotencyKey: crypto.randomUUID(),
        },
      })
      .toPromise();
    showError(result.error);
    const payload = result.data?.requestPayout;
    if (!payload) return;
    showUserErrors(payoutForm, payload.userErrors);
    if (payload.payout) {
      payoutForm.reset();
      upsertPayout(payload.payout);
    }
  });

  $("#add-funds").addEventListener("click", async () => {
    try {
      await addTestFunds(50_000);
    } catch (error) {
      showError(error as Error);
    }
  });
  $("#reconnect").addEventListener("click", () => void reconnect());
  $("#next-page").addEventListener("click", () => {
    const after = $<HTMLButtonElement>("#next-page").dataset.after || null;
    pageCursors.push(after);
    void loadPayouts(after);
  });
  $("#previous-page").addEventListener("click", () => {
    if (pageCursors.length > 1) pageCursors.pop();
    void loadPayouts(pageCursors.at(-1) ?? null);
  });
}

wireForms();
void start().catch((error: Error) => {
  setStatus("offline", error.message);
  window.setTimeout(() => void reconnect(), 2000);
});
