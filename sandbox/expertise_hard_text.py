"""English text of `sandbox/expertise_world_hard.py`: questions and answers, by topic.

Eleven topics, several of them neighbours that share words (SSO and provisioning, billing and
contracts, API and integrations, data exports and the API), as in a real product. Question
templates are listed with the held-out-only ones last (`UNSEEN_EN` of each list never appears
in history). Two-topic questions name the topic whose people actually answered first; vague
questions name no topic at all.
"""

from __future__ import annotations

UNSEEN_EN = 2  # the last two English templates of each topic are never in history

FILLS: dict[str, tuple[str, ...]] = {
    "idp": ("Okta", "Azure AD", "Google Workspace", "OneLogin", "JumpCloud"),
    "tool": ("Jira", "Salesforce", "Zendesk", "HubSpot", "ServiceNow", "GitHub"),
    "warehouse": ("Snowflake", "BigQuery", "Redshift", "Databricks"),
    "endpoint": ("/v3/records", "/v3/users", "/v3/events", "/v3/search"),
    "version": ("7.4", "7.5.1", "8.0"),
    "month": ("March", "June", "September", "November"),
    "n": ("3", "8", "15", "40"),
    "region": ("EU", "US-East", "APAC"),
}

QUESTIONS_EN: dict[str, tuple[str, ...]] = {
    "sso": (
        "SAML login through {idp} fails with 'signature validation failed' since this morning",
        "We rotated the {idp} signing cert, do we have to upload the new one on your side?",
        "Users bounce in a redirect loop after authenticating with {idp}",
        "Can we enforce SSO but keep one break-glass admin with a password?",
        "Does your SSO support OIDC or only SAML 2.0?",
        "Login with {idp} says 'user not assigned to this application' for a few people",
        "hey, after the {idp} cutover nobody from our finance team can sign in",
        "The IdP-initiated flow works but starting from your login page sends us to an error",
    ),
    "provisioning": (
        "SCIM stopped creating new users from {idp} yesterday",
        "Deprovisioned people in {idp} still show as active members on your side",
        "How do we map {idp} groups to roles so new hires get the editor role?",
        "SCIM push fails with 409 conflict for users who changed their email",
        "Can we bulk change the role of {n} users without touching them one by one?",
        "Guests created by SCIM count as full members, is that expected?",
        "we need to transfer ownership of everything a leaver owned to their manager",
        "The SCIM token expired and now provisioning errors out, where do we regenerate it?",
    ),
    "billing": (
        "Our {month} invoice charges {n} more seats than we actually have",
        "We were charged twice this {month}, can you refund the duplicate?",
        "Please reissue the invoice with our VAT ID and PO number on it",
        "The card on file expired, where do we update the payment method?",
        "Can we pay by wire transfer instead of card from now on?",
        "How is the prorated charge computed when we add seats mid-cycle?",
        "Our AP team needs the invoice emailed to ap@ instead of the admin",
        "Why is there a tax line on the {month} invoice when we are tax exempt?",
    ),
    "contracts": (
        "Our renewal is coming up, can we get a quote for {n} more seats?",
        "We'd like to move from the Business plan to Enterprise before renewal",
        "Can we get a multi-year price lock if we sign for three years?",
        "Procurement needs your MSA redlines back by Friday",
        "Can we reduce our seat count at renewal, we had layoffs",
        "Is there a nonprofit or education discount?",
        "who do we talk to about co-terming the new department's licenses with ours?",
        "Our CFO asks whether the renewal uplift can be waived this year",
    ),
    "api": (
        "We keep getting HTTP 429 on {endpoint} during our nightly sync",
        "Our API token returns 401 invalid_token right after we rotated it",
        "Pagination on {endpoint} repeats the same page when we pass the cursor",
        "Which OAuth scopes do we need to read {endpoint}?",
        "Is there a bulk upsert endpoint so we don't send one request per record?",
        "{endpoint} returns 500 when a field contains emoji",
        "Can you raise our rate limit for a one-off backfill this weekend?",
        "The Python SDK times out on large {endpoint} responses",
    ),
    "integrations": (
        "The {tool} integration stopped syncing comments back to our tickets",
        "After reconnecting {tool} every linked item got duplicated",
        "Can the {tool} connector sync one project instead of all of them?",
        "We renamed a status in {tool} and the field mapping broke",
        "The {tool} sync log shows 'permission denied' on some records",
        "Is the {tool} integration two-way or one-way only?",
        "Attachments from {tool} don't come through after the sync",
        "Can we connect two {tool} instances to the same workspace?",
    ),
    "data": (
        "The CSV export of the usage report is missing the last {n} days",
        "Our {warehouse} sync has not updated since yesterday",
        "Dashboard totals don't match the CSV export for the same date range",
        "The scheduled export to {warehouse} fails with a schema mismatch",
        "Can we schedule the weekly activity report to be emailed every Monday?",
        "How are 'active users' counted in the usage dashboard?",
        "We need a full historical export before our contract changes",
        "The pipeline dashboard times out when we choose a 12 month range",
    ),
    "mobile": (
        "The iOS app crashes on launch since the {version} update",
        "Push notifications stopped on Android for our field team",
        "Can we deploy the app through our MDM and preconfigure the server URL?",
        "Offline edits don't sync when the phone comes back online",
        "The Android app drains the battery since {version}",
        "Face ID on the iPhone app asks for the password every single time",
        "Photos attached on Android 14 show up blank",
        "The tablet layout is broken in landscape on iPad",
    ),
    "security": (
        "Can you share your latest SOC 2 Type II report and a bridge letter?",
        "Legal needs your DPA countersigned before we can renew",
        "Is our data encrypted at rest and who holds the keys?",
        "Please fill in our vendor security questionnaire by the end of the month",
        "Our pen testers found a session cookie without the Secure flag",
        "Which subprocessors can access our data, and where are they located?",
        "Can you confirm our data stays in the {region} region?",
        "How long do you keep audit logs, can we stream them to our SIEM?",
    ),
    "reliability": (
        "The app has been extremely slow for the last hour, pages take {n} seconds",
        "We're seeing 502 Bad Gateway on the {region} instance",
        "Is there an outage? Nobody here can load the dashboard",
        "Can we get the postmortem for Tuesday's downtime?",
        "Requests from our {region} office time out intermittently",
        "Your status page says all green but we get errors everywhere",
        "Search has been crawling since the maintenance window",
        "What is your uptime SLA and how are service credits calculated?",
    ),
    "workspace": (
        "How do I stop the daily digest emails for the whole team?",
        "Can admins restrict who is allowed to create new projects?",
        "We invited {n} people and half of them never received the invite email",
        "How do we rename our workspace and change its URL?",
        "Where can we set the default language and time zone for new members?",
        "Is there a way to archive old projects without deleting them?",
        "quick q: can guests see the comments on a task they're assigned to?",
        "How do I move a project from one team space to another?",
    ),
}

# Two-topic questions: (topic whose people answered first, the other topic, template).
TWO_TOPIC_EN: tuple[tuple[str, str, str], ...] = (
    (
        "provisioning",
        "billing",
        "SCIM keeps creating users from {idp} and each one adds a paid seat "
        "to our invoice, how do we stop that?",
    ),
    (
        "sso",
        "mobile",
        "SSO with {idp} works in the browser but the iOS app loops back to the login screen",
    ),
    (
        "integrations",
        "api",
        "Our {tool} connector fails with HTTP 429, is it sharing the API rate "
        "limit with our own scripts?",
    ),
    ("data", "api", "The export API for the usage report returns fewer rows than the CSV download"),
    ("api", "reliability", "Since your incident yesterday our webhook deliveries arrive twice"),
    (
        "contracts",
        "billing",
        "We upgraded to Enterprise mid-term but the invoice still shows the old plan price",
    ),
    (
        "security",
        "sso",
        "Our auditors require SSO enforcement and an export of login audit logs, how "
        "do we show both?",
    ),
    (
        "provisioning",
        "security",
        "A leaver deprovisioned in {idp} still had an active API token, "
        "how do we revoke all of a user's tokens?",
    ),
    (
        "data",
        "security",
        "We must delete one customer's personal data everywhere including exports "
        "to {warehouse}, GDPR request",
    ),
    (
        "mobile",
        "workspace",
        "Push notifications on Android ignore the notification settings admins "
        "set for the workspace",
    ),
    (
        "integrations",
        "provisioning",
        "{tool} sync assigns tickets to users who were removed by SCIM",
    ),
    (
        "reliability",
        "data",
        "The {warehouse} sync and the dashboards have both been lagging hours "
        "behind since the {region} maintenance",
    ),
    ("billing", "workspace", "We archived {n} inactive members, are we still billed for them?"),
    (
        "api",
        "provisioning",
        "Creating users through {endpoint} ignores the role we send, SCIM assigns the right one",
    ),
)
UNSEEN_TWO = 4  # the last four two-topic templates are never in history

VAGUE_EN: tuple[str, ...] = (
    "Hi team, something is off with our account since this morning, can someone take a look?",
    "Is anyone around? We have an urgent issue",
    "quick question about our setup when someone has a minute",
    "Things are not working the way they did last week",
    "Can we hop on a call today? A few things came up",
    "Hey, following up on what we discussed, any news?",
    "our users are complaining again 😕",
    "We need help with something, who is the right person?",
)
UNSEEN_VAGUE = 2

# How each topic is answered in English: the words of that domain.
ANSWERS_EN: dict[str, tuple[str, ...]] = {
    "sso": (
        "The assertion is still signed with the old certificate: upload the new one under "
        "Admin → Security → SAML and test in a private window before you enforce it.",
        "The redirect loop comes from the ACS URL: it must end in /saml/acs. Users not assigned "
        "to the app in the IdP get that error; assign the group and they can sign in.",
    ),
    "provisioning": (
        "The SCIM token was regenerated, so the IdP app stopped pushing; paste the new token "
        "in the provisioning tab and re-push the groups. Role mapping follows the group order.",
        "Deprovisioning deactivates the member and frees the seat at the next sync; I ran the "
        "sync and transferred the leaver's projects to their manager.",
    ),
    "billing": (
        "I checked the billing account: deactivated members were still counted until the "
        "cycle closed. I issued a credit note and a corrected invoice with your VAT ID and PO.",
        "The duplicate charge is refunded to the card, 5-7 business days. Proration is daily "
        "for seats added mid-cycle; the payment method link is in Billing → Payment.",
    ),
    "contracts": (
        "I've prepared the renewal quote with the added seats and the multi-year option; the "
        "order form has the price lock. Happy to walk your procurement through it.",
        "Seat reductions apply at renewal, and the plan change can co-term with your current "
        "agreement. I'll send the MSA redlines back with our legal's comments.",
    ),
    "api": (
        "The limit is per token, 120 requests a minute: honour Retry-After and use the bulk "
        "upsert endpoint for the sync. I raised the limit for the weekend backfill.",
        "Cursors are opaque: pass next_cursor unchanged and keep the filters the same between "
        "pages. After rotation the token needs the records:read scope again.",
    ),
    "integrations": (
        "The connector's OAuth grant expired; re-authorize it under Integrations with an admin "
        "account and the field mapping is kept. I replayed the failed syncs from the log.",
        "Mapping is per project: choose the project filter in the connector settings and remap "
        "the renamed status there. Duplicates come from reconnecting as a different user.",
    ),
    "data": (
        "Exports read the reporting replica, which lagged two days; I re-ran the export and the "
        "warehouse sync, and the dashboard now matches the CSV.",
        "The schema mismatch comes from a renamed column: I re-mapped it in the warehouse "
        "connector. Scheduled reports live under Reports → Schedule.",
    ),
    "mobile": (
        "It's a known crash in that build; the fix ships in the next release. Meanwhile "
        "reinstalling from the App Store or your MDM clears it.",
        "Push tokens were invalidated by the Firebase change; opening the Android app "
        "re-registers them. Managed configuration for MDM is documented under Mobile → Deploy.",
    ),
    "security": (
        "I've shared the SOC 2 Type II report and bridge letter through the trust portal; data "
        "is encrypted at rest with AES-256, keys in our KMS, customer-managed keys on Enterprise.",
        "The DPA is countersigned and the subprocessor list is on the trust page; I'll take the "
        "questionnaire. Audit logs are kept a year and stream to your SIEM.",
    ),
    "reliability": (
        "A database node in that region degraded; we failed over and latency is back to "
        "normal. The postmortem and SLA credit details will be on the status page.",
        "The 502s came from a load balancer deploy we rolled back. Maintenance windows are "
        "announced seven days ahead; search reindexing after it is finished now.",
    ),
    "workspace": (
        "Digest emails are under Admin → Notifications → Defaults; switching them off there "
        "applies to everyone who hasn't chosen their own setting.",
        "Project creation can be limited to admins under Admin → Permissions. Invites go out "
        "from noreply@; ask IT to allow it, and I've resent the invitations.",
    ),
}

# What the account's people say when they only look in, or hand off.
MANAGER_EN = (
    "Following this one, I've flagged it with the team.",
    "+1, thanks for raising it. We're on it.",
    "Adding this to our weekly review with your account team.",
)
CUSTOMER_PEER_EN = (
    "Same here on our side, started around the same time.",
    "We saw this last month too, a restart didn't help.",
)
FOLLOW_UPS_EN = (None, None, None, "Thanks, that worked!", "Still failing for us, any update?")
