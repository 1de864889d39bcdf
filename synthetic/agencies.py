"""The district's administrative agencies: who decides penalties, who publishes and repairs."""
from __future__ import annotations

from dataclasses import dataclass

from synthetic.codes import uscc_check_char
from synthetic.district import DISTRICT, DISTRICT_REGION


@dataclass(frozen=True)
class Agency:
    name: str
    uscc: str
    doc_prefix: str  # 行政处罚决定书文号 prefix, e.g. 渝长市监罚 in 渝长市监罚〔2026〕12号


def _agency(name: str, organisation_code: str, doc_prefix: str) -> Agency:
    body = "11" + DISTRICT_REGION + organisation_code  # 11: government body
    return Agency(name, body + uscc_check_char(body), doc_prefix)


AGENCIES = {
    "market": _agency(DISTRICT + "市场监督管理局", "MB1931574", "渝长市监罚"),
    "environment": _agency(DISTRICT + "生态环境局", "009300812", "渝长环罚"),
    "transport": _agency(DISTRICT + "交通运输委员会", "009300476", "渝长交罚"),
    "urban": _agency(DISTRICT + "城市管理局", "009301508", "渝长城管罚"),
    "emergency": _agency(DISTRICT + "应急管理局", "MB1930264", "渝长应急罚"),
    "fire": _agency(DISTRICT + "消防救援支队", "MB1E74217", "长消行罚决字"),
    "police": _agency(DISTRICT + "公安局", "009300241", "长公（治）行罚决字"),
    "health": _agency(DISTRICT + "卫生健康委员会", "MB1929868", "长卫医罚"),
    "agriculture": _agency(DISTRICT + "农业农村委员会", "009300799", "渝长农罚"),
    "culture": _agency(DISTRICT + "文化和旅游发展委员会", "MB1931109", "渝长文旅罚"),
    "labour": _agency(DISTRICT + "人力资源和社会保障局", "009300353", "渝长人社罚"),
    "tax": _agency("国家税务总局重庆市长寿区税务局", "MB1610783", "长税罚"),
}
# The district credit office: publishes penalties (数据来源单位) and decides repairs.
CREDIT_OFFICE = _agency(DISTRICT + "发展和改革委员会", "009300126", "")
