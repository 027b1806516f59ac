"""What makes two reports one problem (workers.incident_match), in several languages; the
examples are this file's own, not the benchmark sets' (bench/data, held out or tuned on)."""

from __future__ import annotations

from workers.incident_match import (
    conflicts,
    fingerprint,
    group_similarity,
    pair_similarity,
    rarity,
    similarity,
)

SAML = "SAML login is failing for all our users, the ACS endpoint returns HTTP 500"
SAML_ES = "No podemos iniciar sesión con SSO, nos da error 500 desde esta mañana"
SAML_ZH = "我们的用户无法通过SAML单点登录，返回500错误"
SAML_PATH = "getting 500 Internal Server Error on /sso/saml/acs right after Okta redirects back"
THRESHOLD = 0.45


def test_one_failure_told_in_three_languages_matches() -> None:
    for a, b in [(SAML, SAML_ES), (SAML, SAML_ZH), (SAML_ES, SAML_ZH), (SAML, SAML_PATH)]:
        assert pair_similarity(fingerprint(a), fingerprint(b)) >= THRESHOLD, (a, b)


def test_the_same_status_code_on_another_feature_is_another_problem() -> None:
    export = fingerprint("CSV export fails with a 500 error when I pick last month")
    assert conflicts(export, fingerprint(SAML))
    assert pair_similarity(export, fingerprint(SAML)) < 0.3


def test_another_endpoint_is_another_problem_but_a_page_link_is_not() -> None:
    audit = fingerprint("GET /api/v1/audit-logs returns 504 after 60s")
    exports = fingerprint("POST /api/v1/exports times out with 504")
    assert conflicts(audit, exports)
    linked = fingerprint("exports broken, see <https://app.example.com/settings/exports|here>")
    assert not conflicts(linked, exports)


def test_a_terse_report_matches_the_incident_it_belongs_to_not_a_question() -> None:
    profile = fingerprint(SAML) | fingerprint(SAML_ES) | fingerprint(SAML_ZH)
    assert similarity(fingerprint("sso down?"), profile) >= THRESHOLD
    assert similarity(fingerprint("webhooks stopped arriving since 9:20"), profile) < 0.3
    assert similarity(fingerprint("Can you resend the November invoice?"), profile) < 0.1


def test_signatures_read_codes_endpoints_errors_areas_and_symptoms() -> None:
    said = fingerprint(
        "Since 9:05 `POST https://api.example.com/v2/events/123` gives 502 Bad Gateway "
        "and the SDK raises TimeoutError; also SAML_RESPONSE_INVALID on login. any update?"
    ).signatures
    assert {
        "http:502",
        "endpoint:/v2/events/{id}",
        "error:timeouterror",
        "error:saml_response_invalid",
        "area:events",
        "area:login",
        "symptom:follow_up",
    } <= said
    assert "http:500" not in fingerprint("we have 500 users on the enterprise plan").signatures
    assert "symptom:down" in fingerprint("パスワード再設定のメールが届きません").signatures


def test_an_incident_is_compared_by_its_core_so_two_outages_stay_two() -> None:
    """One account hit by both outages wrote about webhooks into the SAML incident: compared
    with the union of its reports, every webhook report was then "contained" in it and two
    outages became one (the held-out morning, 41d0153). Seen failing with `group_similarity`
    comparing with the union alone."""
    saml = [fingerprint(t) for t in (SAML, SAML_ES, SAML_ZH, SAML_PATH)]
    also_webhooks = fingerprint("SSO still 500 for us, and now webhooks stopped arriving too")
    group = [*saml, also_webhooks]
    webhook = fingerprint("webhook deliveries stuck in pending since 9:20, nothing arrives")
    assert group_similarity(webhook, group) < THRESHOLD
    assert group_similarity(fingerprint("sso down?"), group) >= THRESHOLD
    assert group_similarity(fingerprint(SAML_PATH), saml[:3]) >= THRESHOLD


def test_lowercase_codes_count_and_another_status_code_is_another_failure() -> None:
    checkout = fingerprint("every card payment fails at checkout with `processing_error`")
    assert "code:processing_error" in checkout.signatures
    assert checkout.has_error_signature
    assert conflicts(fingerprint("search returns 500 for all"), fingerprint("SCIM gives 409"))


def test_a_rare_shared_word_says_more_than_a_common_one() -> None:
    """Words weigh by how rare they are among the moment's reports (`rarity`): two reports
    sharing "payroll" match better than two sharing only "error", where both words appear."""
    moment = [
        fingerprint(t)
        for t in (
            "error in the dashboard",
            "error again on login",
            "error when saving",
            "payroll run stuck with an error",
        )
    ]
    idf = rarity(moment)
    a = fingerprint("payroll run stuck")
    assert similarity(a, fingerprint("payroll is stuck too"), idf) > similarity(
        a, fingerprint("stuck with an error"), idf
    )
