"""Every string of the dashboard and scripts pages, per language: Mandarin (zh-CN) by
default, English (en-US) on request (`?lang=en-US`, or the `lang` cookie the console sets).
Codes stored by the robot (outcomes, risks, escalation reasons) have names here too; a code
without one is shown as it is."""

from __future__ import annotations

from fastapi import Request

DEFAULT_LANGUAGE = "zh-CN"

TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "dashboard": "主管看板",
        "scripts": "话术脚本",
        "period": "时段",
        "period_1": "今天",
        "period_7": "最近 7 天",
        "period_30": "最近 30 天",
        "period_range": "{since} 至 {until}（{zone}）",
        "warnings": "预警",
        "warnings_total": "收到的预警",
        "warnings_by_risk": "各风险等级的预警",
        "calls_placed": "外呼次数",
        "answered": "接通",
        "connect_rate": "接通率",
        "dissuaded": "劝阻成功",
        "dissuasion_rate": "劝阻率",
        "dissuasion_rate_note": "劝阻成功 ÷ 接通",
        "reference_rate": "参考：{rate}（成都武侯区公布的有效劝阻率）",
        "reference": "参考（武侯区）",
        "unit_hours": "小时",
        "unit_minutes": "分",
        "unit_seconds": "秒",
        "in_flight": "通话中",
        "median_first_call": "预警到首次外呼（中位数）",
        "median_first_call_note": "本时段收到、已外呼的 {count} 条预警",
        "outcomes": "通话结果",
        "escalations_by_reason": "转人工（按原因）",
        "escalations_total": "转人工",
        "over_time": "按时间",
        "by_scam_type": "按诈骗类型",
        "by_script": "按脚本版本",
        "scam_type": "诈骗类型",
        "script": "脚本",
        "version": "版本",
        "language": "语言",
        "count": "数量",
        "nothing": "本时段没有数据",
        "chart_warnings": "预警",
        "chart_calls": "外呼",
        "chart_answered": "接通",
        "chart_dissuaded": "劝阻成功",
        "what_numbers_mean": "外呼次数：本时段开始的每一次外呼（含占线、未接、线路故障）。接通率：接通 ÷ 外呼次数。"
                             "劝阻率：劝阻成功 ÷ 接通。中位数：本时段收到的预警从收到到第一次外呼的时间。",
        "tests": "内置测试",
        "tests_passed": "{passed}/{total} 通过",
        "tests_failed": "{failed} 个失败",
        "tests_none": "没有内置测试",
        "tests_running": "测试运行中……",
        "diagram": "流程图",
        "diagram_source": "Mermaid 源码",
        "no_scripts": "没有加载任何脚本",
        "scam_types": "诈骗类型",
        "risk_levels": "风险等级",
        "loaded_from": "文件",
    },
    "en-US": {
        "dashboard": "Supervisors' dashboard",
        "scripts": "Dialog scripts",
        "period": "Period",
        "period_1": "Today",
        "period_7": "Last 7 days",
        "period_30": "Last 30 days",
        "period_range": "{since} to {until} ({zone})",
        "warnings": "Warnings",
        "warnings_total": "Warnings received",
        "warnings_by_risk": "Warnings by risk",
        "calls_placed": "Calls placed",
        "answered": "Answered",
        "connect_rate": "Connect rate",
        "dissuaded": "Dissuaded",
        "dissuasion_rate": "Dissuasion rate",
        "dissuasion_rate_note": "dissuaded ÷ answered",
        "reference_rate": "Reference: {rate} (the effective dissuasion rate Wuhou, Chengdu reports)",
        "reference": "Reference (Wuhou)",
        "unit_hours": "h",
        "unit_minutes": "min",
        "unit_seconds": "s",
        "in_flight": "In progress",
        "median_first_call": "Warning to first call (median)",
        "median_first_call_note": "over the {count} warnings received in the period and called",
        "outcomes": "Call outcomes",
        "escalations_by_reason": "Escalations by reason",
        "escalations_total": "Escalations",
        "over_time": "Over time",
        "by_scam_type": "By scam type",
        "by_script": "By script version",
        "scam_type": "Scam type",
        "script": "Script",
        "version": "Version",
        "language": "Language",
        "count": "Count",
        "nothing": "Nothing in this period",
        "chart_warnings": "Warnings",
        "chart_calls": "Calls",
        "chart_answered": "Answered",
        "chart_dissuaded": "Dissuaded",
        "what_numbers_mean": "Calls placed: every call started in the period (busy, unanswered and trunk faults included). "
                             "Connect rate: answered ÷ calls placed. Dissuasion rate: dissuaded ÷ answered. Median: time from "
                             "receiving a warning of the period to its first call.",
        "tests": "Embedded tests",
        "tests_passed": "{passed}/{total} pass",
        "tests_failed": "{failed} failing",
        "tests_none": "No embedded tests",
        "tests_running": "Tests running…",
        "diagram": "Diagram",
        "diagram_source": "Mermaid source",
        "no_scripts": "No scripts are loaded",
        "scam_types": "Scam types",
        "risk_levels": "Risk levels",
        "loaded_from": "File",
    },
}

CODES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "high": "高风险", "medium": "中风险", "low": "低风险",
        "dissuaded": "劝阻成功", "escalated": "转人工", "refused": "拒绝", "no_input": "无应答", "wrong_person": "非本人",
        "callback_requested": "要求回电", "hung_up": "挂断", "busy": "占线", "no_answer": "未接听", "rejected": "拒接",
        "invalid_number": "空号", "unreachable": "无法接通", "failed": "线路故障", "robot_error": "机器人故障",
        "interrupted": "中断", "no_script": "无适用脚本",
        "urgent_speech": "紧急（已转账等）", "callee_request": "要求人工", "not_understood": "听不懂", "high_risk": "高风险预警",
        "unanswered": "无人接听", "unanswered_busy": "占线未接通", "script": "脚本要求", "call_failed": "呼叫失败",
        "online_loan": "网络贷款", "order_brushing": "网络刷单", "pig_butchering": "杀猪盘",
        "fake_customer_service": "冒充客服退款", "impersonate_acquaintance": "假冒熟人", "impersonate_police": "冒充公检法",
        "stock_tips": "荐股", "fake_shopping": "虚假购物", "campus_loan": "注销校园贷", "game_currency": "买卖游戏币",
        "investment": "投资理财", "generic": "通用",
    },
    "en-US": {
        "high": "High", "medium": "Medium", "low": "Low",
        "dissuaded": "Dissuaded", "escalated": "Escalated", "refused": "Refused", "no_input": "No input",
        "wrong_person": "Wrong person", "callback_requested": "Call-back requested", "hung_up": "Hung up", "busy": "Busy",
        "no_answer": "No answer", "rejected": "Rejected", "invalid_number": "Invalid number", "unreachable": "Unreachable",
        "failed": "Trunk fault", "robot_error": "Robot error", "interrupted": "Interrupted", "no_script": "No script",
        "urgent_speech": "Urgent speech", "callee_request": "Callee asked for a person", "not_understood": "Not understood",
        "high_risk": "High risk", "unanswered": "Unanswered", "unanswered_busy": "Unanswered (busy)", "script": "Script",
        "call_failed": "Call failed",
        "online_loan": "Online loans", "order_brushing": "Order brushing", "pig_butchering": "Romance investment",
        "fake_customer_service": "Fake customer service", "impersonate_acquaintance": "Impersonating an acquaintance",
        "impersonate_police": "Impersonating police", "stock_tips": "Stock tips", "fake_shopping": "Fake shopping",
        "campus_loan": "Cancelling a campus loan", "game_currency": "Game currency", "investment": "Investment",
        "generic": "Generic",
    },
}


def language_of(request: Request) -> str:
    """`?lang=` first, then the `lang` cookie, else Mandarin; an unknown language is Mandarin."""
    wanted = request.query_params.get("lang") or request.cookies.get("lang") or DEFAULT_LANGUAGE
    return wanted if wanted in TEXT else DEFAULT_LANGUAGE


class Catalogue:
    """The strings of one language: `text("key", name=value)`, `code("busy")`."""

    def __init__(self, language: str) -> None:
        self.language = language if language in TEXT else DEFAULT_LANGUAGE
        self._text = TEXT[self.language]
        self._codes = CODES[self.language]

    def text(self, key: str, **values: object) -> str:
        template = self._text[key]  # a missing key is a bug: the catalogue test checks every template's keys
        return template.format(**values) if values else template

    def code(self, code: str) -> str:
        return self._codes.get(code, code)
