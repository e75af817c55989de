// Usage plans and usage: API Gateway's limits beside each plan, a key's requests per day.

import { $, el } from "./shared.js";
import { api, enc, keysPath } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const USAGE_DAYS = 30;
const plans = { items: null, request: 0 };

async function loadPlans() {
  if (plans.items === null) {
    try { plans.items = (await api("GET", "/plans")).items || []; } catch (error) { plans.items = []; }
  }
  return plans.items;
}

function planLimits(plan) {
  const parts = [];
  if (plan.rate_limit !== null && plan.rate_limit !== undefined) parts.push(plan.rate_limit + " req/s");
  if (plan.burst_limit !== null && plan.burst_limit !== undefined) parts.push("burst " + plan.burst_limit);
  if (plan.quota) parts.push(Number(plan.quota.limit).toLocaleString() + " per " + String(plan.quota.period || "").toLowerCase());
  return parts.join(", ");
}

function renderPlanPicker(select, selected) {
  select.replaceChildren(el("option", { value: "" }, "No plan"),
    ...plans.items.map((plan) => el("option", { value: plan.name, title: plan.description || "" },
      plan.name + (planLimits(plan) ? " (" + planLimits(plan) + ")" : ""))));
  select.value = selected || "";
}

// What the create (key null) or edit body says of the plan: nothing when nothing changes.
export function planChoice(key) {
  const row = $(key ? "edit-plan-row" : "create-plan-row");
  if (row.hidden) return {};
  const chosen = $(key ? "edit-plan" : "create-plan").value || null;
  if (!key) return chosen ? { plan: chosen } : {};
  return chosen === (key.plan || null) ? {} : { plan: chosen };
}

async function preparePlanPicker() {
  const row = $("create-plan-row");
  row.hidden = true;
  if (!(await loadPlans()).length) return;
  renderPlanPicker($("create-plan"), "");
  row.hidden = false;
}

export async function showPlanAndUsage(key, editable) {
  const row = $("edit-plan-row");
  const usage = $("edit-usage");
  row.hidden = true;
  usage.hidden = true;
  const request = ++plans.request;
  const items = await loadPlans();
  if (request !== plans.request) return;
  if (items.length || key.plan) {
    renderPlanPicker($("edit-plan"), key.plan);
    $("edit-plan").disabled = !editable;
    row.hidden = false;
  }
  if (!key.plan) return;
  usage.hidden = false;
  $("edit-usage-status").textContent = "Loading usage…";
  $("edit-usage-chart").replaceChildren();
  try {
    const data = await api("GET", keysPath() + "/" + enc(key.id) + "/usage", { query: { days: USAGE_DAYS } });
    if (request !== plans.request) return;
    $("edit-usage-chart").replaceChildren(usageChart(data.days || []));
    const total = (data.days || []).reduce((sum, day) => sum + day.requests, 0);
    let text = total.toLocaleString() + " requests in " + USAGE_DAYS + " days";
    if (data.quota && data.quota_remaining !== null && data.quota_remaining !== undefined) {
      text += "; quota left: " + Number(data.quota_remaining).toLocaleString() + " of " +
        Number(data.quota.limit).toLocaleString() + " per " + String(data.quota.period || "").toLowerCase();
    }
    $("edit-usage-status").textContent = text + ".";
  } catch (error) {
    // The API says why in a sentence (the local run: API Gateway counts nothing there).
    const why = /[.!?]$/.test(error.message) ? error.message : error.message + ".";
    if (request === plans.request) $("edit-usage-status").textContent = "Usage is not available: " + why;
  }
}

// A bar per day, drawn as SVG elements (no inline style, no library), so the page's CSP holds.
function usageChart(days) {
  const width = 300, height = 80, gap = 1;
  const most = Math.max(1, ...days.map((day) => day.requests));
  const bar = days.length ? width / days.length : width;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + (height + 1));
  svg.setAttribute("class", "usage-chart");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Requests per day over the last " + days.length + " days");
  const axis = document.createElementNS(SVG, "line");
  for (const [name, value] of [["x1", 0], ["y1", height], ["x2", width], ["y2", height]]) axis.setAttribute(name, String(value));
  axis.setAttribute("class", "usage-axis");
  svg.append(axis);
  days.forEach((day, index) => {
    const tall = Math.round((day.requests / most) * (height - 4));
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", String(index * bar + gap / 2));
    rect.setAttribute("y", String(height - tall));
    rect.setAttribute("width", String(Math.max(1, bar - gap)));
    rect.setAttribute("height", String(tall));
    rect.setAttribute("class", "usage-bar");
    rect.setAttribute("data-date", day.date);
    rect.setAttribute("data-requests", String(day.requests));
    const title = document.createElementNS(SVG, "title");
    title.textContent = day.date + ": " + day.requests.toLocaleString() + " requests";
    rect.append(title);
    svg.append(rect);
  });
  return svg;
}

export function wirePlans() {
  $("add-key").addEventListener("click", preparePlanPicker);
  $("edit-dialog").addEventListener("close", () => { plans.request += 1; });
}
