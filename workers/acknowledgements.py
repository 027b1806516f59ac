"""What we say to a customer ourselves, in their language (SPEC §5.4): the offline drafter's
greeting, honest acknowledgement by category and urgency, and line before a documentation
passage; and the CSAT question after an answer, its buttons and its thanks (SPEC §6.7).

Each language's sentences are written as a support person would write them in it, not
translated word by word from the English: Spanish and Portuguese address the customer's team
(`les`, `sua conta`), German and French the formal `Sie`/`vous`, Japanese is polite business
language (`〜いたします`), Chinese uses `您`. Chinese and Japanese sentences follow each other
without a space.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.triage_types import Category, Urgency


@dataclass(frozen=True)
class CsatPhrases:
    """The CSAT question in the customer's thread, and what a click on it is told."""

    question: str
    good: str  # the buttons' labels (a button's text is at most 75 characters)
    bad: str
    thanks: str
    changed: str  # a second click changed their answer
    closed: str  # the question is no longer open
    not_counted: str  # to one of our own people, in the team's language


@dataclass(frozen=True)
class Phrases:
    greeting: str  # "{user}" is the customer's mention
    openers: dict[Category, str]  # the first sentence(s), by category; `other` for the rest
    soon: str  # when we will write again, for normal and low urgency
    within_the_hour: str  # ... for urgent and high
    documentation: str  # before a quoted passage of the knowledge base
    automatic: str  # under an answer sent without approval: it is one, and how to reach a person
    csat: CsatPhrases
    space: str = " "  # between sentences


_C = Category
PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        greeting="Hi {user}, ",
        openers={
            _C.INCIDENT: "thanks for flagging this. We're treating it as urgent and looking into "
            "it now.",
            _C.BUG: "thanks for the report. We're reproducing it on our side.",
            _C.BILLING: "thanks for reaching out about billing. We're checking your account now.",
            _C.ACCOUNT_ACCESS: "thanks for letting us know. We're looking at your access right "
            "away.",
            _C.FEATURE_REQUEST: "thanks for the suggestion. We'll share it with our product team.",
            _C.OTHER: "thanks for your message. We're looking into it.",
        },
        soon="We'll follow up in this thread shortly.",
        within_the_hour="We'll update you in this thread within the hour.",
        documentation="this part of our documentation should help:",
        automatic="_This answer was sent automatically. Not what you needed? Reply here and a "
        "person from our team will take over._",
        csat=CsatPhrases(
            question="How did we do? Did this answer your question?",
            good="👍 Yes, thanks",
            bad="👎 Not really",
            thanks="Thank you for letting us know. 🙏",
            changed="Thank you: we have changed your answer.",
            closed="This question is no longer open.",
            not_counted="This question is for the customer: your click was not counted.",
        ),
    ),
    "es": Phrases(
        greeting="Hola {user}, ",
        openers={
            _C.INCIDENT: "gracias por avisarnos. Lo estamos tratando como urgente y ya lo "
            "estamos investigando.",
            _C.BUG: "gracias por el reporte. Estamos intentando reproducirlo de nuestro lado.",
            _C.BILLING: "gracias por escribirnos sobre la facturación. Ya estamos revisando su "
            "cuenta.",
            _C.ACCOUNT_ACCESS: "gracias por avisarnos. Estamos revisando su acceso ahora mismo.",
            _C.FEATURE_REQUEST: "gracias por la sugerencia. Se la haremos llegar a nuestro equipo "
            "de producto.",
            _C.OTHER: "gracias por su mensaje. Ya lo estamos revisando.",
        },
        soon="Les daremos novedades en este hilo en breve.",
        within_the_hour="Les daremos novedades en este hilo en menos de una hora.",
        documentation="creemos que esta parte de nuestra documentación les puede ayudar:",
        automatic="_Esta respuesta se envió automáticamente. ¿No es lo que necesitabas? Responde "
        "aquí y una persona de nuestro equipo se hará cargo._",
        csat=CsatPhrases(
            question="¿Qué tal lo hicimos? ¿Esta respuesta resolvió su consulta?",
            good="👍 Sí, gracias",
            bad="👎 No del todo",
            thanks="Gracias por contárnoslo. 🙏",
            changed="Gracias: hemos cambiado su respuesta.",
            closed="Esta encuesta ya está cerrada.",
            not_counted="Esta pregunta es para el cliente: su clic no se ha contado.",
        ),
    ),
    "pt": Phrases(
        greeting="Olá {user}, ",
        openers={
            _C.INCIDENT: "obrigado por avisar. Estamos tratando isso como urgente e já estamos "
            "investigando.",
            _C.BUG: "obrigado pelo relato. Estamos tentando reproduzir o problema do nosso lado.",
            _C.BILLING: "obrigado por falar com a gente sobre o faturamento. Já estamos "
            "verificando a sua conta.",
            _C.ACCOUNT_ACCESS: "obrigado por avisar. Já estamos verificando o seu acesso.",
            _C.FEATURE_REQUEST: "obrigado pela sugestão. Vamos compartilhá-la com o nosso time "
            "de produto.",
            _C.OTHER: "obrigado pela mensagem. Já estamos verificando.",
        },
        soon="Voltamos a falar com vocês aqui nesta thread em breve.",
        within_the_hour="Damos um retorno aqui nesta thread em até uma hora.",
        documentation="esta parte da nossa documentação deve ajudar:",
        automatic="_Esta resposta foi enviada automaticamente. Não era o que precisava? Responda "
        "aqui e uma pessoa da nossa equipe assumirá._",
        csat=CsatPhrases(
            question="Como foi o nosso atendimento? Esta resposta resolveu a sua dúvida?",
            good="👍 Sim, obrigado",
            bad="👎 Não muito",
            thanks="Obrigado pelo retorno. 🙏",
            changed="Obrigado: atualizamos a sua resposta.",
            closed="Esta pesquisa já foi encerrada.",
            not_counted="Esta pergunta é para o cliente: o seu clique não foi contado.",
        ),
    ),
    "fr": Phrases(
        greeting="Bonjour {user}, ",
        openers={
            _C.INCIDENT: "merci de nous avoir prévenus. Nous traitons le problème en priorité et "
            "l'analysons dès maintenant.",
            _C.BUG: "merci pour le signalement. Nous essayons de reproduire le problème de notre "
            "côté.",
            _C.BILLING: "merci de nous avoir contactés au sujet de la facturation. Nous vérifions "
            "votre compte dès maintenant.",
            _C.ACCOUNT_ACCESS: "merci de nous avoir prévenus. Nous vérifions vos accès tout de "
            "suite.",
            _C.FEATURE_REQUEST: "merci pour la suggestion. Nous allons la transmettre à notre "
            "équipe produit.",
            _C.OTHER: "merci pour votre message. Nous regardons cela de près.",
        },
        soon="Nous revenons vers vous dans ce fil très rapidement.",
        within_the_hour="Nous vous tenons au courant dans ce fil d'ici une heure.",
        documentation="cette partie de notre documentation devrait vous aider\u00a0:",
        automatic="_Cette réponse a été envoyée automatiquement. Ce n'est pas ce qu'il vous "
        "fallait ? Répondez ici et une personne de notre équipe prendra le relais._",
        csat=CsatPhrases(
            question="Votre avis compte\u00a0: cette réponse a-t-elle répondu à votre "
            "question\u00a0?",
            good="👍 Oui, merci",
            bad="👎 Pas vraiment",
            thanks="Merci pour votre retour. 🙏",
            changed="Merci\u00a0: nous avons bien modifié votre réponse.",
            closed="Ce sondage est clos.",
            not_counted="Cette question s'adresse au client\u00a0: votre clic n'a pas été compté.",
        ),
    ),
    "de": Phrases(
        greeting="Hallo {user}, ",
        openers={
            _C.INCIDENT: "danke für den Hinweis. Wir behandeln das als dringend und sehen es uns "
            "sofort an.",
            _C.BUG: "danke für die Meldung. Wir versuchen gerade, das Problem bei uns "
            "nachzustellen.",
            _C.BILLING: "danke für Ihre Nachricht zur Abrechnung. Wir prüfen Ihr Konto gerade.",
            _C.ACCOUNT_ACCESS: "danke für den Hinweis. Wir prüfen Ihren Zugang sofort.",
            _C.FEATURE_REQUEST: "danke für den Vorschlag. Wir geben ihn an unser Produktteam "
            "weiter.",
            _C.OTHER: "danke für Ihre Nachricht. Wir sehen uns das gerade an.",
        },
        soon="Wir melden uns in Kürze hier im Thread.",
        within_the_hour="Wir melden uns innerhalb einer Stunde hier im Thread.",
        documentation="dieser Teil unserer Dokumentation sollte weiterhelfen:",
        automatic="_Diese Antwort wurde automatisch gesendet. Nicht das, was Sie brauchten? "
        "Antworten Sie hier, und eine Person aus unserem Team übernimmt._",
        csat=CsatPhrases(
            question="Wie zufrieden sind Sie mit unserer Antwort? Hat sie Ihre Frage beantwortet?",
            good="👍 Ja, danke",
            bad="👎 Nicht wirklich",
            thanks="Vielen Dank für Ihre Rückmeldung. 🙏",
            changed="Vielen Dank, wir haben Ihre Antwort geändert.",
            closed="Diese Umfrage ist bereits geschlossen.",
            not_counted="Diese Frage richtet sich an den Kunden: Ihr Klick wurde nicht gezählt.",
        ),
    ),
    "zh": Phrases(
        greeting="{user} 您好，",
        openers={
            _C.INCIDENT: "感谢您及时告知。我们已将此问题列为紧急事项，正在全力排查。",
            _C.BUG: "感谢您的反馈。我们正在尝试复现这个问题。",
            _C.BILLING: "感谢您就账单问题联系我们。我们正在核查您的账户。",
            _C.ACCOUNT_ACCESS: "感谢告知。我们正在检查您的访问权限。",
            _C.FEATURE_REQUEST: "感谢您的建议，我们会转达给产品团队。",
            _C.OTHER: "感谢您的留言，我们正在跟进处理。",
        },
        soon="稍后我们会在这里回复您。",
        within_the_hour="我们会在一小时内在这里向您同步进展。",
        documentation="这部分文档应该能帮到您：",
        automatic="_此回复为自动发送。如果没有解决您的问题，请在此回复，我们的工作人员会接手处理。_",
        csat=CsatPhrases(
            question="我们的回复对您有帮助吗？您的问题解决了吗？",
            good="👍 解决了，谢谢",
            bad="👎 没有解决",
            thanks="感谢您的反馈。🙏",
            changed="谢谢，已更新您的评价。",
            closed="此调查已结束。",
            not_counted="此问题面向客户，您的点击不计入统计。",
        ),
        space="",
    ),
    "ja": Phrases(
        greeting="{user} さん、",
        openers={
            _C.INCIDENT: "ご連絡ありがとうございます。緊急案件として、現在調査を進めております。",
            _C.BUG: "ご報告ありがとうございます。現在こちらで再現を試みております。",
            _C.BILLING: "ご請求の件でご連絡いただきありがとうございます。現在アカウントを"
            "確認しております。",
            _C.ACCOUNT_ACCESS: "ご連絡ありがとうございます。アクセス権限をすぐに確認いたします。",
            _C.FEATURE_REQUEST: "ご提案ありがとうございます。プロダクトチームに共有いたします。",
            _C.OTHER: "メッセージありがとうございます。現在確認しております。",
        },
        soon="追ってこちらのスレッドでご連絡いたします。",
        within_the_hour="1時間以内にこちらのスレッドで進捗をご報告いたします。",
        documentation="こちらのドキュメントがお役に立つかと思います：",
        automatic="_この回答は自動で送信されました。解決しない場合は、このスレッドに返信してください。"
        "担当者が引き継ぎます。_",
        csat=CsatPhrases(
            question="今回の対応はいかがでしたか？ご質問は解決しましたか？",
            good="👍 はい、解決しました",
            bad="👎 いいえ、まだです",
            thanks="ご回答いただきありがとうございます。🙏",
            changed="ありがとうございます。回答を変更しました。",
            closed="このアンケートは締め切られました。",
            not_counted="この質問はお客様向けのため、クリックは集計されていません。",
        ),
        space="",
    ),
}


def phrases(language: str | None, fallback: str = "en") -> Phrases:
    """The phrases in `language`, else in `fallback` (the team's), else in English."""
    return PHRASES.get(language or "") or PHRASES.get(fallback) or PHRASES["en"]


def acknowledgement(said: Phrases, user_id: str, category: Category, urgency: Urgency) -> str:
    """The offline drafter's honest reply: thanks, what we are doing, when we write again."""
    opener = said.openers.get(category, said.openers[Category.OTHER])
    urgent = urgency in (Urgency.URGENT, Urgency.HIGH)
    follow_up = said.within_the_hour if urgent else said.soon
    return f"{greeting(said, user_id)}{opener}{said.space}{follow_up}"


def greeting(said: Phrases, user_id: str) -> str:
    return said.greeting.format(user=f"<@{user_id}>")
