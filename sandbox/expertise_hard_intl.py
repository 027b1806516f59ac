"""Spanish and Chinese text of `sandbox/expertise_world_hard.py`.

Customers of the Spanish- and Chinese-speaking accounts ask most questions in their language,
the way people there write them (Chinese customers keep product words such as SSO, API or SCIM
in English). Each topic has how-to questions (answered by the account's support engineer in
the customer's language) and faults (answered by the topic's people). The last template of
every list is never in history.
"""

from __future__ import annotations

UNSEEN_INTL = 1  # the last template of each list below is never in history

# topic: (how-to questions, faults)
QUESTIONS_ES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sso": (
        (
            "¿Cómo activamos el inicio de sesión único con {idp}?",
            "¿Se puede obligar a todos a entrar por SSO y dejar un admin con contraseña?",
        ),
        (
            "El login SAML con {idp} da 'firma no válida' desde esta mañana",
            "Después de cambiar el certificado de {idp} nadie puede entrar",
            "Los usuarios se quedan en un bucle de redirección al volver de {idp}",
        ),
    ),
    "provisioning": (
        (
            "¿Cómo asignamos roles según los grupos de {idp}?",
            "¿Cómo cambiamos el rol de {n} usuarios a la vez?",
        ),
        (
            "SCIM dejó de crear usuarios nuevos desde ayer",
            "Los usuarios dados de baja en {idp} siguen activos en vuestra plataforma",
            "El token de SCIM caducó y el aprovisionamiento da error",
        ),
    ),
    "billing": (
        (
            "¿Dónde cambiamos la tarjeta de pago?",
            "¿Nos podéis mandar la factura con nuestro CIF y el número de pedido?",
        ),
        (
            "Nos cobraron dos veces la suscripción de {month}",
            "La factura de {month} tiene {n} licencias más de las que usamos",
            "Nos aparece IVA en la factura y estamos exentos",
        ),
    ),
    "contracts": (
        (
            "¿Qué descuento hay si renovamos por tres años?",
            "Queremos pasar al plan Enterprise, ¿cómo se hace?",
        ),
        (
            "La oferta de renovación sube un 12%, ¿se puede revisar?",
            "Necesitamos reducir licencias en la renovación por recortes",
            "Compras necesita el contrato marco revisado antes del viernes",
        ),
    ),
    "api": (
        (
            "¿Qué permisos necesita el token para leer {endpoint}?",
            "¿Hay algún endpoint para cargar registros en bloque?",
        ),
        (
            "La API devuelve 429 en {endpoint} durante la sincronización nocturna",
            "Después de rotar el token la API responde 401",
            "{endpoint} devuelve error 500 cuando el texto lleva tildes",
        ),
    ),
    "integrations": (
        (
            "¿Se puede sincronizar solo un proyecto de {tool}?",
            "¿La integración con {tool} es bidireccional?",
        ),
        (
            "La integración con {tool} dejó de sincronizar los comentarios",
            "Al reconectar {tool} se duplicaron todos los enlaces",
            "Los adjuntos de {tool} no aparecen después de sincronizar",
        ),
    ),
    "data": (
        (
            "¿Cómo programamos el informe semanal para que llegue los lunes?",
            "¿Cómo se cuentan los usuarios activos en el panel?",
        ),
        (
            "La exportación CSV no trae los últimos {n} días",
            "La sincronización con {warehouse} lleva un día sin actualizarse",
            "Los totales del panel no cuadran con el CSV",
        ),
    ),
    "mobile": (
        ("¿Se puede instalar la app con nuestro MDM?", "¿Hay versión beta de la app para probar?"),
        (
            "La app de iOS se cierra al abrirla desde la versión {version}",
            "No llegan las notificaciones push en Android",
            "Las fotos adjuntas en Android salen en blanco",
        ),
    ),
    "security": (
        ("¿Nos podéis enviar el informe SOC 2?", "¿Dónde están alojados nuestros datos?"),
        (
            "Nuestra auditoría encontró una cookie de sesión sin el atributo Secure",
            "Legal necesita el DPA firmado antes de renovar",
            "Hay que rellenar el cuestionario de seguridad de proveedores este mes",
        ),
    ),
    "reliability": (
        (
            "¿Cuál es vuestro SLA de disponibilidad?",
            "¿Cuándo es la próxima ventana de mantenimiento en {region}?",
        ),
        (
            "La aplicación va lentísima desde hace una hora",
            "Nos sale error 502 en la instancia de {region}",
            "¿Hay una caída? Nadie de la oficina puede entrar",
        ),
    ),
    "workspace": (
        (
            "¿Cómo desactivamos los correos de resumen diario para todo el equipo?",
            "¿Cómo cambiamos el idioma por defecto del espacio de trabajo?",
        ),
        (
            "Invitamos a {n} personas y la mitad no recibió el correo",
            "Los invitados no ven los comentarios de sus tareas",
            "No podemos archivar proyectos antiguos, el botón no aparece",
        ),
    ),
}

QUESTIONS_ZH: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sso": (
        (
            "请问怎么配置 {idp} 的 SSO 单点登录？",
            "能不能强制所有人用 SSO 登录，但保留一个管理员用密码？",
        ),
        (
            "今天早上开始用 {idp} SAML 登录报错：签名无效",
            "更换了 {idp} 的证书以后大家都登录不了",
            "从 {idp} 登录回来一直重定向，进不去",
        ),
    ),
    "provisioning": (
        ("怎么把 {idp} 的用户组对应到你们的角色？", "能批量修改 {n} 个用户的角色吗？"),
        (
            "SCIM 从昨天开始不创建新用户了",
            "在 {idp} 里停用的员工，在你们这边还是激活状态",
            "SCIM token 过期了，同步一直报错",
        ),
    ),
    "billing": (
        ("在哪里更换付款的信用卡？", "发票能加上我们的税号和采购单号吗？"),
        (
            "{month}份的订阅被扣了两次款",
            "{month}的发票比我们实际用的多了 {n} 个席位",
            "我们是免税的，为什么发票上有税",
        ),
    ),
    "contracts": (
        ("续约三年有优惠吗？", "我们想升级到企业版，流程是怎样的？"),
        (
            "续约报价涨了 12%，能不能再谈一下",
            "续约的时候需要减少席位",
            "法务需要你们在周五前回复合同修改意见",
        ),
    ),
    "api": (
        ("读取 {endpoint} 需要哪些 OAuth 权限？", "有没有批量写入的接口？"),
        (
            "夜间同步调用 {endpoint} 一直返回 429",
            "API token 轮换之后请求返回 401",
            "{endpoint} 遇到中文字段就返回 500",
        ),
    ),
    "integrations": (
        ("{tool} 集成可以只同步一个项目吗？", "和 {tool} 的集成是双向同步吗？"),
        (
            "{tool} 集成不再同步评论了",
            "重新连接 {tool} 以后所有链接都重复了",
            "{tool} 的附件同步过来以后看不到",
        ),
    ),
    "data": (
        ("怎么设置每周一自动发送周报？", "仪表盘里的活跃用户是怎么统计的？"),
        (
            "CSV 导出缺少最近 {n} 天的数据",
            "{warehouse} 的数据同步一天没有更新了",
            "仪表盘的总数和导出的 CSV 对不上",
        ),
    ),
    "mobile": (
        ("可以通过我们的 MDM 部署手机 App 吗？", "有测试版的 App 可以先试用吗？"),
        (
            "升级到 {version} 以后 iOS App 一打开就闪退",
            "安卓手机收不到推送通知",
            "安卓上传的照片显示空白",
        ),
    ),
    "security": (
        ("能提供最新的 SOC 2 报告吗？", "我们的数据存放在哪个地区？"),
        (
            "渗透测试发现会话 cookie 没有设置 Secure",
            "法务需要你们先签 DPA 才能续约",
            "这个月要填完供应商安全问卷",
        ),
    ),
    "reliability": (
        ("你们的可用性 SLA 是多少？", "{region} 下一次维护窗口是什么时候？"),
        (
            "系统从一个小时前开始特别慢",
            "{region} 实例一直报 502",
            "是不是宕机了？办公室所有人都打不开",
        ),
    ),
    "workspace": (
        ("怎么给全团队关闭每日摘要邮件？", "新成员的默认语言和时区在哪里设置？"),
        (
            "邀请了 {n} 个人，一半没收到邀请邮件",
            "访客看不到分配给他们的任务评论",
            "旧项目没法归档，按钮不见了",
        ),
    ),
}

TWO_TOPIC_ES: tuple[tuple[str, str, str], ...] = (
    ("provisioning", "billing", "Cada usuario que crea SCIM nos suma una licencia en la factura"),
    ("sso", "mobile", "El SSO funciona en el navegador pero la app de iOS vuelve al login"),
    ("integrations", "api", "El conector de {tool} falla con 429, ¿comparte límite con la API?"),
    (
        "data",
        "security",
        "Tenemos que borrar los datos personales de un cliente, también en "
        "las exportaciones a {warehouse}",
    ),
)
TWO_TOPIC_ZH: tuple[tuple[str, str, str], ...] = (
    ("provisioning", "billing", "SCIM 每创建一个用户，发票上就多一个付费席位"),
    ("api", "reliability", "你们昨天故障以后，我们的 webhook 每条都收到两次"),
    ("sso", "mobile", "浏览器里 SSO 正常，但是 iOS App 一直跳回登录页"),
    ("data", "api", "用导出 API 拿到的行数比直接下载 CSV 少"),
)
VAGUE_ES = (
    "Hola, algo no va bien con nuestra cuenta desde esta mañana, ¿alguien lo puede mirar?",
    "¿Hay alguien? Tenemos un problema urgente",
    "Una consulta rápida sobre nuestra configuración cuando podáis",
)
VAGUE_ZH = (
    "你好，我们的账号从早上开始有点问题，能帮忙看一下吗？",
    "有人在吗？我们这边有个紧急问题",
    "想咨询一下我们的配置，有空的时候回复一下",
)

ANSWERS_ES: dict[str, str] = {
    "sso": "La aserción SAML sigue firmada con el certificado antiguo: subid el nuevo en "
    "Admin → Seguridad → SAML y probad en una ventana privada antes de forzar el SSO.",
    "provisioning": "El token de SCIM se regeneró y el IdP dejó de enviar cambios; pegad el "
    "nuevo token y volved a enviar los grupos. Los roles siguen el orden de los grupos.",
    "billing": "He revisado la cuenta de facturación: os emití una nota de crédito y una "
    "factura corregida con vuestro CIF y número de pedido; el cobro duplicado se reembolsa.",
    "contracts": "Os preparo la oferta de renovación con las licencias y la opción a tres "
    "años con precio bloqueado; se lo explico a vuestro equipo de compras.",
    "api": "El límite es por token, 120 peticiones por minuto: respetad Retry-After y usad el "
    "endpoint de carga en bloque. Tras rotar el token hace falta el permiso records:read.",
    "integrations": "La autorización OAuth del conector caducó; reautorizadlo en "
    "Integraciones con un admin y se conserva el mapeo. He relanzado las sincronizaciones.",
    "data": "Las exportaciones leen la réplica de informes, que iba con retraso; he relanzado "
    "la exportación y la sincronización del almacén de datos y ya cuadra con el CSV.",
    "mobile": "Es un fallo conocido de esa versión; la corrección sale en la próxima. "
    "Mientras tanto, reinstalar la app desde la App Store o el MDM lo soluciona.",
    "security": "Os he compartido el informe SOC 2 Tipo II en el portal de confianza; los "
    "datos se cifran en reposo con AES-256 y el DPA ya está firmado por nuestra parte.",
    "reliability": "Un nodo de base de datos de esa región se degradó; hicimos failover y la "
    "latencia ya es normal. El postmortem estará en la página de estado.",
    "workspace": "Los correos de resumen se desactivan en Admin → Notificaciones → "
    "Predeterminados, para todos los que no eligieron su propia opción. He reenviado las "
    "invitaciones.",
}
ANSWERS_ZH: dict[str, str] = {
    "sso": "SAML 断言还是用旧证书签名的：请在 管理 → 安全 → SAML 上传新证书，先用无痕窗口测试，"
    "再开启强制 SSO。",
    "provisioning": "SCIM token 重新生成后 IdP 就停止推送了，请填入新的 token 并重新推送用户组，"
    "角色按用户组顺序映射。",
    "billing": "我查了账单账户：已经开具贷项通知单和更正后的发票（含税号和采购单号），"
    "重复扣款会原路退回。",
    "contracts": "我准备了续约报价，包括新增席位和三年锁价方案，可以和你们采购一起过一下。",
    "api": "限流是按 token 计算的，每分钟 120 次：请遵守 Retry-After，并使用批量写入接口。"
    "token 轮换后需要重新授予 records:read 权限。",
    "integrations": "连接器的 OAuth 授权过期了，请用管理员在 集成 页面重新授权，字段映射会保留。"
    "我已经重放了失败的同步。",
    "data": "导出读取的是报表副本，之前延迟了两天；我重新跑了导出和数据仓库同步，"
    "现在和 CSV 一致了。",
    "mobile": "这是该版本的已知闪退问题，下个版本修复。在此之前从 App Store 或 MDM 重新安装即可。",
    "security": "SOC 2 Type II 报告已经通过信任门户共享给你们；"
    "数据静态加密（AES-256），DPA 我们已签署。",
    "reliability": "该地区一个数据库节点性能下降，我们已切换，延迟恢复正常。"
    "事后报告会发布在状态页。",
    "workspace": "摘要邮件在 管理 → 通知 → 默认设置 里关闭，对没有单独设置的成员都生效。"
    "邀请邮件我已重新发送。",
}

CUSTOMER_PEER_ES = ("A nosotros nos pasa lo mismo desde esta mañana.",)
CUSTOMER_PEER_ZH = ("我们这边也一样，从早上开始的。",)
FOLLOW_UPS_ES = (None, None, "¡Gracias, ya funciona!", "Sigue fallando, ¿alguna novedad?")
FOLLOW_UPS_ZH = (None, None, "谢谢，已经好了！", "还是不行，有进展吗？")
