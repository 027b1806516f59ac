"""The questions and answers of `sandbox/expertise_world.py`, by speciality.

Each speciality has an expert, a backup (who answers about one question in eight), question
templates with slots (the last two never appear in history, only among held-out questions),
and answers written the way that expert writes: in their domain's words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

AMY, BEN = "U0AMY", "U0BEN"  # account managers
JO = "U0JO"  # SRE, helps on reliability, the API and mobile
GUS = "U0GUS"  # the former SSO expert: deactivated


@dataclass(frozen=True)
class Speciality:
    expert: str
    name: str
    tz: str
    backup: str
    questions: tuple[str, ...]
    fills: dict[str, tuple[str, ...]]
    answers: tuple[str, ...]


S = Speciality
SPECIALITIES: dict[str, Speciality] = {
    "sso": S(
        "U0SAM",
        "Sam (identity)",
        "Europe/London",
        GUS,
        (
            "Our SAML login through {idp} fails with 'invalid signature' since this morning",
            "We rotated the {idp} signing certificate, do we need to upload it on your side?",
            "SCIM provisioning from {idp} stopped creating new users, what could block it?",
            "Can we enforce SSO for everyone but keep a break-glass admin with a password?",
            "Users get stuck in a redirect loop after the {idp} login page",
            "How do we map {idp} groups to roles with SAML attributes?",
            "Just-in-time provisioning created duplicate accounts for people with new emails",
            "Is SP-initiated SAML supported, or only IdP-initiated from the {idp} dashboard?",
            "SCIM deprovisioning in {idp} does not deactivate the user on your side",
            "We are moving from {idp} to another identity provider, how do we switch SSO over?",
        ),
        {"idp": ("Okta", "Azure AD", "Google Workspace", "OneLogin", "Ping")},
        (
            "The SAML assertion is signed with the old certificate: upload the new one under "
            "Settings → Security → SSO, then test with a private window before enforcing.",
            "SCIM needs the provisioning token regenerated after the rotation; group push also "
            "has to be re-enabled in the IdP app. I have checked the logs on our side.",
        ),
    ),
    "billing": S(
        "U0PRIYA",
        "Priya (billing)",
        "Europe/Berlin",
        AMY,
        (
            "Our {month} invoice shows {n} more seats than we have active users",
            "Can you send the invoice with our VAT number and the PO number on it?",
            "We were charged twice for the annual plan this {month}, please refund one",
            "How is the prorated charge calculated when we add seats mid-term?",
            "We want to switch from monthly to annual billing, what happens to the credit?",
            "The credit card on file expired, where do we update the payment method?",
            "Can we pay by bank transfer instead of card from {month} on?",
            "Why did the price per seat go up on the renewal quote?",
            "We need a W-9 and your remittance details for our procurement team",
            "Please downgrade us to the standard plan at the end of the billing period",
        ),
        {"month": ("March", "April", "May", "June", "October"), "n": ("5", "12", "20", "40")},
        (
            "I have checked the billing account: the seats count deactivated users until the "
            "next cycle. I issued a credit note and a corrected invoice with your VAT and PO.",
            "Proration is daily: added seats are charged for the remaining days of the term. "
            "I have updated the payment method link and refunded the duplicate charge.",
        ),
    ),
    "api": S(
        "U0MARCO",
        "Marco (API)",
        "Europe/Rome",
        JO,
        (
            "We keep hitting HTTP 429 rate limits on the {endpoint} endpoint during our sync",
            "Webhooks for {event} events stopped arriving at our endpoint yesterday",
            "How do we paginate {endpoint} results, the cursor seems to repeat pages?",
            "Our API token returns 401 invalid_auth after we rotated it",
            "Which OAuth scopes does the REST API need to read {endpoint}?",
            "Is there a bulk endpoint so we can upsert records without one request per item?",
            "The webhook signature verification fails with our HMAC code",
            "The Python SDK throws a timeout on large {endpoint} requests",
            "Can we get a higher API rate limit for our nightly batch job?",
            "The {endpoint} API returns 500 for some payloads with unicode characters",
        ),
        {
            "endpoint": ("/v2/records", "/v2/users", "/v2/events", "search", "contacts"),
            "event": ("record.updated", "user.created", "invoice.paid", "comment.added"),
        },
        (
            "The rate limit is per token: 100 requests per minute with bursts; honour the "
            "Retry-After header and use the bulk endpoint. Webhook retries resumed on our side.",
            "Cursors are opaque: pass next_cursor unchanged and don't change the filters "
            "between pages. The token needs the records:read scope after rotation.",
        ),
    ),
    "data": S(
        "U0LENA",
        "Lena (data)",
        "America/New_York",
        "U0MARCO",
        (
            "The CSV export of {report} is missing the last {n} days of data",
            "Can we schedule the {report} report to be emailed every Monday?",
            "Our {warehouse} sync has not updated since yesterday",
            "Dashboard numbers for {report} don't match the CSV export",
            "How do we export all historical data before our contract changes?",
            "The scheduled export to {warehouse} fails with a schema mismatch",
            "Is there a way to build a custom report with filters by region?",
            "The {report} dashboard times out when we pick a 12 month range",
            "Can you explain how active users are counted in the {report} report?",
            "We need a full data export in JSON for our data warehouse migration",
        ),
        {
            "report": ("usage", "activity", "pipeline", "weekly summary", "audit"),
            "warehouse": ("Snowflake", "BigQuery", "Redshift", "Databricks"),
            "n": ("2", "3", "7"),
        },
        (
            "Exports run from the reporting replica, which lagged for two days; I re-ran the "
            "export and the warehouse sync, and the dashboard now matches the CSV.",
            "Scheduled reports live under Reports → Schedule; the schema mismatch came from a "
            "renamed column, so I re-mapped it in the warehouse connector.",
        ),
    ),
    "mobile": S(
        "U0KENJI",
        "Kenji (mobile)",
        "Asia/Tokyo",
        JO,
        (
            "The iOS app crashes on launch after updating to version {version}",
            "Push notifications stopped on Android phones for our field team",
            "Can we deploy the mobile app through our MDM ({mdm})?",
            "Offline mode doesn't sync changes when the phone reconnects",
            "The Android app drains the battery since the {version} update",
            "Is there a TestFlight build we can try before the next release?",
            "Face ID login on the iPhone app asks for the password every time",
            "Our users can't attach photos in the mobile app on Android 14",
            "The iPad app layout is broken in landscape",
            "Can the mobile app be restricted to managed devices only?",
        ),
        {"version": ("5.2", "5.3.1", "6.0"), "mdm": ("Intune", "Jamf", "Workspace ONE")},
        (
            "This is a known crash in the {0} build on iOS; a fix is in the next release. "
            "Meanwhile reinstalling from the App Store or your MDM clears it.",
            "Push tokens were invalidated after the Firebase change; reopening the Android "
            "app re-registers them. Managed-device restriction is under Mobile → Policies.",
        ),
    ),
    "integrations": S(
        "U0OLGA",
        "Olga (integrations)",
        "Europe/Warsaw",
        "U0MARCO",
        (
            "The {tool} integration stopped syncing comments back to our tickets",
            "How do we map custom fields between {tool} and your app?",
            "After reconnecting {tool}, all our old links were duplicated",
            "Can the {tool} connector sync only one project instead of everything?",
            "The {tool} sync shows 'permission denied' for some records",
            "Is there a two-way sync with {tool} or only one-way?",
            "We renamed a status in {tool} and the mapping broke",
            "The integration user for {tool} was deactivated, how do we re-authorize it?",
            "Can we connect two {tool} instances to one workspace?",
            "Attachments from {tool} are not showing up after the sync",
        ),
        {"tool": ("Jira", "Salesforce", "Zendesk", "HubSpot", "ServiceNow", "GitHub")},
        (
            "The connector's OAuth grant expired; re-authorize it under Integrations with an "
            "admin account and the field mapping is kept. I replayed the failed sync.",
            "Mapping is per project: pick the project filter in the connector settings and map "
            "custom fields and statuses there; duplicates come from reconnecting as a new user.",
        ),
    ),
    "security": S(
        "U0TOM",
        "Tom (security)",
        "America/Chicago",
        "U0SAM",
        (
            "Can you share your latest SOC 2 Type II report and bridge letter?",
            "Our legal team needs your DPA signed for GDPR before renewal",
            "Is customer data encrypted at rest, and who manages the keys?",
            "We need data residency in the EU, where are your servers?",
            "Our pen test found an issue with session cookies, who can we report it to?",
            "Please fill in our security questionnaire ({framework}) by Friday",
            "How long do you keep audit logs, and can we export them to our SIEM?",
            "Do you have a vulnerability disclosure program or bug bounty?",
            "Which subprocessors have access to our data?",
            "Can we get an ISO 27001 certificate copy for our vendor review?",
        ),
        {"framework": ("SIG Lite", "CAIQ", "VSA", "HECVAT")},
        (
            "I've shared the SOC 2 Type II report and the bridge letter through the trust "
            "portal; data is encrypted at rest with AES-256 and keys are in our KMS.",
            "The DPA is signed on our side, EU data stays in Frankfurt and Dublin, and the "
            "subprocessor list is on the trust page. I'll take the questionnaire.",
        ),
    ),
    "reliability": S(
        "U0RAVI",
        "Ravi (reliability)",
        "Asia/Kolkata",
        JO,
        (
            "The app has been very slow for the last hour, pages take {n} seconds to load",
            "We are getting 502 Bad Gateway errors on the {region} instance",
            "Is there an outage? Nobody on our team can log in right now",
            "Can we get the incident postmortem for last week's downtime?",
            "Requests time out intermittently from our {region} office",
            "The status page says operational but we see errors everywhere",
            "What is your uptime SLA and how are credits calculated after an outage?",
            "Search latency spiked after the maintenance window",
            "We see connection resets from your load balancer since the migration",
            "Can you tell us when the scheduled maintenance in {region} happens?",
        ),
        {"n": ("10", "20", "30"), "region": ("EU", "US-East", "APAC", "Frankfurt")},
        (
            "We had a degraded database node in that region; it's failed over and latency is "
            "back to normal. The postmortem and SLA credit details will follow on the page.",
            "The 502s came from a load balancer deploy that we rolled back; the status page "
            "now shows the incident. Maintenance windows are announced 7 days ahead.",
        ),
    ),
}

# More of each expert's answers: how they explain their domain, in its usual words.
_MORE_ANSWERS = {
    "sso": (
        "For identity we support SAML 2.0 and OIDC with any IdP; SCIM 2.0 provisions users and "
        "groups, and the login page redirect goes back to the IdP. Check the ACS URL and entity "
        "ID in the IdP app, then enforce SSO with one break-glass admin.",
        "The IdP metadata XML has the signing certificate and the SSO URL; attribute mapping "
        "turns IdP groups into roles on first login (just-in-time provisioning).",
    ),
    "billing": (
        "Your subscription is billed per seat; the invoice, receipts, tax (VAT, GST) and "
        "payment methods are under Billing. Plan changes apply at the next billing period, and "
        "unused credit carries over. Procurement forms (W-9, vendor forms) I send directly.",
        "The renewal quote reflects the new list price; discounts and the contract's price "
        "protection are on the order form. Refunds go back to the original card or account.",
    ),
    "api": (
        "The REST API uses OAuth tokens with scopes; requests over the limit get HTTP 429 with "
        "Retry-After. Webhook deliveries are signed with HMAC-SHA256 and retried with backoff, "
        "and the SDKs (Python, Node, Java) handle pagination and timeouts for you.",
        "For large payloads use the bulk endpoint and JSON with UTF-8; a 500 with unicode was "
        "an encoding bug in the endpoint, fixed in the API this week.",
    ),
    "data": (
        "Reports and dashboards read from the analytics store: exports (CSV, JSON, Parquet) can "
        "be scheduled, and the warehouse connectors (Snowflake, BigQuery, Redshift) sync every "
        "hour. For a full historical export I can start a one-off backup job.",
        "Metrics such as active users are defined in the report's settings; filters by region, "
        "team or date range can be saved as a custom report and shared.",
    ),
    "mobile": (
        "The iOS, iPadOS and Android apps support offline mode, push notifications, biometrics "
        "(Face ID, fingerprint) and managed deployment through MDM app configuration. Tablet "
        "layouts and screen rotation were reworked in the last release.",
        "Crash reports from the phone's app store console show the device and OS version; a "
        "beta build on TestFlight or Google Play testing can confirm the fix.",
    ),
    "integrations": (
        "Our connectors for Jira, Salesforce, Zendesk, HubSpot, ServiceNow and GitHub sync "
        "records, comments and attachments one-way or two-way; each instance is connected with "
        "its own integration user, and field and status mappings are per connection.",
        "When a sync fails with permission errors, the integration user lost access in the "
        "other tool; re-authorize the connection and replay failed syncs from the log.",
    ),
    "security": (
        "Our compliance programme covers SOC 2 Type II, ISO 27001 and GDPR: certificates, pen "
        "test summaries and the subprocessor list are in the trust portal, and I answer "
        "vendor security questionnaires (SIG, CAIQ) and sign DPAs for legal teams.",
        "Report vulnerabilities to security@ (responsible disclosure, bug bounty on "
        "HackerOne). Audit logs are kept for a year and stream to your SIEM; encryption keys "
        "are managed in KMS, with customer-managed keys on enterprise plans.",
    ),
    "reliability": (
        "During an incident we post on the status page; latency, error rates (502, 504) and "
        "timeouts per region are on our dashboards. After an outage we publish a postmortem, "
        "and the uptime SLA gives service credits below 99.9%.",
        "Slow pages and search latency usually come from a degraded node or a maintenance "
        "window; maintenance is announced in advance, and load balancers drain connections.",
    ),
}
SPECIALITIES = {
    key: replace(speciality, answers=speciality.answers + _MORE_ANSWERS[key])
    for key, speciality in SPECIALITIES.items()
}
