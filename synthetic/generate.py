"""Synthetic department feeds for one district (重庆市长寿区), for demos, tests and benchmarks.

`generate` writes the seven feeds of the department contract (shared/feeds/README.md) under
``out/<feed>/<feed>_<YYYYMMDD>[_<seq>].<csv|xlsx>``, consistent across feeds (every code a
feed points at exists where it should), with the deviations real department files show,
and ``out/generator_manifest.json`` saying which rows are deliberately bad and which rows
carry a quirk the platform must absorb. Everything the generator needs (towns, villages,
name parts, agencies) is a constant of this module: nothing is read at run time.

Where the quirks are:

- entity_register: UTF-8 with BOM; names and codes padded with ASCII or full-width spaces
  (valid after trimming); registered capital with thousands separators; a few rows whose
  USCC has a mistyped check character (bad). With ``broken_header=True`` also a second
  file of the day whose 统一社会信用代码 header reads 社会信用代码 (the whole file is bad).
- tax_credit: GB18030; USCCs Excel turned into numbers, ``9.15001E+17`` and 18 digits
  ending in ``000`` (bad); arrears with thousands separators and full-width digits;
  padded names and codes. The same bytes are dropped again as ``tax_credit_<date>_2.csv``.
- penalty: GB18030; dates in the four contract formats; a quoted line break inside
  违法事实; full-width fines (``１２.００``); padded names; 自然人 rows whose 身份证号码 has a
  wrong check digit (bad).
- parking: UTF-8 without BOM, LF line ends; cars still parked (no 离场时间); a second file
  dated as_of + 1 repeating some records with a newer state (欠费 → 催缴后补缴, parked →
  paid); a ``.csv.part`` file dated as_of + 2 cut off mid-line (an upload in progress).
- rural_cooperative, credit_household: XLSX, first sheet, header in row 1, code columns
  as text cells, padded names and codes; 评定年度 is a number cell in credit_household
  and a text cell in rural_cooperative.
- credit_repair: UTF-8 without BOM, CRLF line ends.

Row numbers in the manifest count records as a CSV reader or a worksheet sees them:
header = row 1, and a record holding a quoted line break is one row.

Determinism: all values come from random generators seeded with ``seed``; no clock is
read. CSV files are byte-identical for one seed. XLSX files carry fixed ZIP timestamps and
document properties, so they are byte-identical too wherever zlib compresses the same way;
their cell content is identical everywhere.
"""
from __future__ import annotations

import csv
import datetime
import json
import math
import random
import shutil
import zipfile
from calendar import monthrange
from dataclasses import dataclass, field
from operator import mul
from pathlib import Path
from typing import Callable, Iterable, Sequence
from xml.sax.saxutils import escape as xml_escape

Date = datetime.date
DAY = datetime.timedelta(days=1)
ProgressCallback = Callable[[str, int, int], None]

MANIFEST_NAME = "generator_manifest.json"
PROGRESS_EVERY = 50_000

SCALES: dict[str, dict[str, int]] = {
    "sample": {
        "enterprises": 100, "individual_businesses": 150, "cooperatives": 40,
        "social_organizations": 5, "public_institutions": 5,
        "household_towns": 4, "villages_per_town": 3, "households": 400,
        "other_residents": 300, "car_owners": 250, "unit_vehicles": 40,
        "parking_records": 3_000, "parking_days": 30, "parking_berths": 1_000,
        "parking_updates": 3, "penalties": 80, "repairs": 10,
    },
    "district": {
        "enterprises": 24_000, "individual_businesses": 48_900, "cooperatives": 1_500,
        "social_organizations": 400, "public_institutions": 200,
        "household_towns": 12, "villages_per_town": 14, "households": 100_000,
        "other_residents": 60_000, "car_owners": 50_000, "unit_vehicles": 6_000,
        "parking_records": 1_000_000, "parking_days": 180, "parking_berths": 9_000,
        "parking_updates": 200, "penalties": 20_000, "repairs": 500,
    },
}

# ---------------------------------------------------------------------------- headers

ENTITY_HEADER = ["统一社会信用代码", "主体名称", "主体类型", "法定代表人", "成立日期", "登记状态",
                 "注册资本（万元）", "行业门类", "住所", "所属镇街"]
TAX_HEADER = ["统一社会信用代码", "纳税人名称", "评价年度", "纳税信用等级", "评价得分", "欠税余额（元）",
              "重大税收违法失信主体", "数据日期"]
PENALTY_HEADER = ["行政相对人名称", "行政相对人类别", "统一社会信用代码", "法定代表人", "证件类型", "证件号码",
                  "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容",
                  "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号",
                  "处罚决定日期", "处罚有效期", "公示截止期", "失信程度", "处罚机关", "处罚机关统一社会信用代码",
                  "数据来源单位", "数据来源单位统一社会信用代码", "备注"]
PARKING_HEADER = ["停车记录编号", "车牌号", "车主类型", "车主证件号码", "泊位编号", "入场时间", "离场时间",
                  "应缴金额（元）", "已缴金额（元）", "缴费状态", "催缴次数", "最后缴费时间"]
COOPERATIVE_HEADER = ["统一社会信用代码", "合作社名称", "所属镇街", "所属村", "主营产品", "成员户数", "年产量",
                      "资产总额（万元）", "负债总额（万元）", "贷款逾期次数", "村委会评价", "评定年度"]
HOUSEHOLD_HEADER = ["户主姓名", "身份证号码", "所属镇街", "所属村", "家庭人口", "主营产品", "家庭年收入（万元）",
                    "资产总额（万元）", "负债总额（万元）", "贷款逾期次数", "村委会评价", "评定年度"]
REPAIR_HEADER = ["行政处罚决定书文号", "处罚机关统一社会信用代码", "修复决定日期", "修复机关", "修复方式"]

# ------------------------------------------------------------------------ identifiers

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DIGITS = "0123456789"
USCC_LETTERS = USCC_ALPHABET[10:]
MODERN_CODES_FROM = Date(2015, 10, 1)  # organisation codes of the form MA... since the USCC reform


def uscc_check_char(body: str) -> str:
    """Check character of a USCC from its first 17 characters (ISO 7064 MOD 31-3)."""
    total = sum(map(mul, map(_USCC_VALUES.__getitem__, body[:17]), _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ric_check_char(body: str) -> str:
    """Check character of a 居民身份证号码 from its first 17 digits (MOD 11-2)."""
    return "10X98765432"[sum(map(mul, map(int, body[:17]), _RIC_WEIGHTS)) % 11]


# --------------------------------------------------------------------- district facts

DISTRICT = "重庆市长寿区"
DISTRICT_REGION = "500115"
# Other districts of Chongqing, for people born or registered elsewhere.
OTHER_REGIONS = ("500101", "500102", "500103", "500104", "500105", "500106", "500107",
                 "500108", "500109", "500110", "500112", "500113", "500116", "500117",
                 "500118", "500119", "500120", "500151", "500152", "500153", "500154",
                 "500155", "500156")
# Streets and towns of 长寿区 with a weight for how many businesses sit there.
STREETS = {"凤城街道": 12, "晏家街道": 8, "江南街道": 6, "渡舟街道": 6, "新市街道": 4, "菩提街道": 4,
           "八颗街道": 3}
RURAL_TOWNS = {"邻封镇": 3, "但渡镇": 3, "云集镇": 3, "长寿湖镇": 3, "双龙镇": 3, "龙河镇": 3,
               "葛兰镇": 3, "石堰镇": 2, "云台镇": 2, "海棠镇": 2, "洪湖镇": 2, "万顺镇": 2}
TOWN_WEIGHTS = {**STREETS, **RURAL_TOWNS}
VILLAGE_NAMES = (
    "新桥村", "大塘村", "桃花村", "石堰村", "黄葛村", "龙桥村", "双河村", "三合村", "太平村", "永丰村",
    "新华村", "红星村", "光明村", "和平村", "长岭村", "花园村", "白果村", "青龙村", "凤凰村", "金竹村",
    "柏林村", "观音村", "莲花村", "高峰村", "复兴村", "红岩村", "大兴村", "五一村", "新民村", "团结村",
    "堰塘村", "桂花村", "清泉村", "狮子村", "天星村", "茶园村", "梨子村", "水井村", "杨柳村", "河坝村",
    "石龙村", "松林村", "沙田村", "兰家村", "回龙村", "古佛村", "八角村", "楠木村", "东风村", "石门村",
    "枫香村", "万寿村", "铁坪村", "三峰村", "柚子村", "保合村", "乐温村",
)
ROADS = ("桃花大道", "向阳路", "长寿路", "凤山路", "菩提大道", "渝长路", "齐心大道", "央企大道", "聚丰路",
         "八颗路", "关口路", "文苑路", "新桥路", "江南大道", "晏家路", "渡舟路", "凤城路", "太平路",
         "河街", "建设路")
SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
    "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢",
    "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "付", "方", "邹", "熊", "秦", "邱", "江",
    "尹", "雷", "侯", "龙", "陶", "黎", "贺", "顾", "毛", "龚", "邵", "万", "覃", "向", "冉", "莫", "牟",
    "况", "蒲", "税", "母", "刁",
)
GIVEN_NAME_CHARS = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "红", "建", "国", "志", "海", "波", "斌",
    "辉", "林", "燕", "琴", "云", "莉", "梅", "鑫", "宇", "浩", "凯", "俊", "帆", "婷", "雪", "倩", "欣",
    "晨", "阳", "鹏", "飞", "龙", "成", "彬", "蓉", "萍", "丹", "蕾", "佳", "春", "德", "福", "贵", "荣",
    "兵", "洪", "川", "渝", "江", "忠", "清", "学", "友", "生", "茂", "发", "顺", "琼", "素", "淑",
)
BRAND_WORDS = (
    "德润", "恒达", "宏泰", "天健", "鑫旺", "长江", "汇丰", "绿野", "顺发", "嘉禾", "兴隆", "福源", "川渝",
    "渝东", "金穗", "华睿", "博远", "瑞丰", "锦程", "晨曦", "明辉", "盛世", "康达", "永信", "通达", "鸿运",
    "万家", "丰泽", "聚源", "凯旋", "东升", "佳禾", "润丰", "盈科", "同创", "安泰", "金桥", "祥和", "正阳",
    "和信", "利民", "惠民", "益农", "山城", "巴渝", "龙溪", "凤鸣", "天宇", "昌盛", "泓源", "骏达", "卓越",
    "国泰", "美佳", "众鑫", "泰和", "德信", "华远", "星辰", "新锐", "蓝天", "碧水", "青山", "金鼎", "宝丰",
    "九鼎", "腾飞", "源丰", "长盛", "恒信", "富民", "鼎盛", "诚信", "永安", "宏图", "锦华", "晟达", "君诚",
    "欣荣", "弘毅",
)
# (trade in the name, GB/T 4754 section)
ENTERPRISE_CAPITALS_WAN = (10, 30, 50, 100, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 12000)
ENTERPRISE_TRADES = (
    ("商贸", "F"), ("贸易", "F"), ("建材", "F"), ("医药", "F"), ("农产品", "F"), ("汽车销售", "F"),
    ("科技", "M"), ("信息技术", "I"), ("软件", "I"), ("网络科技", "I"), ("化工", "C"), ("新材料", "C"),
    ("机械制造", "C"), ("食品", "C"), ("电子", "C"), ("钢结构", "C"), ("印务", "C"), ("纺织", "C"),
    ("建筑工程", "E"), ("装饰工程", "E"), ("市政工程", "E"), ("物流", "G"), ("运输", "G"),
    ("餐饮管理", "H"), ("酒店管理", "H"), ("房地产开发", "K"), ("物业管理", "K"), ("农业开发", "A"),
    ("生态农业", "A"), ("电力工程", "D"), ("水务", "D"), ("环保科技", "N"), ("旅游开发", "N"),
    ("教育咨询", "P"), ("文化传媒", "R"), ("健康管理", "Q"), ("劳务", "L"), ("广告", "L"),
    ("企业管理咨询", "L"), ("人力资源", "L"), ("汽车服务", "O"), ("家政服务", "O"), ("矿业", "B"),
)
INDIVIDUAL_TRADES = (
    ("便利店", "F"), ("超市", "F"), ("副食店", "F"), ("水果店", "F"), ("五金店", "F"), ("建材经营部", "F"),
    ("服装店", "F"), ("手机店", "F"), ("药房", "F"), ("农资经营部", "F"), ("粮油店", "F"),
    ("废品回收站", "F"), ("餐馆", "H"), ("火锅店", "H"), ("面馆", "H"), ("小吃店", "H"), ("豆花饭店", "H"),
    ("烧烤店", "H"), ("农家乐", "H"), ("茶馆", "H"), ("理发店", "O"), ("美容美发店", "O"),
    ("汽车修理部", "O"), ("家电维修部", "O"), ("洗衣店", "O"), ("摩托车修理部", "O"), ("照相馆", "O"),
    ("养殖场", "A"), ("种植场", "A"), ("货运部", "G"), ("快递服务部", "G"), ("打印店", "M"),
)
# (主营产品, unit of 年产量, what the cooperative's name says it does)
FARM_PRODUCTS = (
    ("柚子", "吨", "沙田柚种植"), ("柑橘", "吨", "柑橘种植"), ("蔬菜", "吨", "蔬菜种植"),
    ("茶叶", "吨", "茶叶种植"), ("中药材", "吨", "中药材种植"), ("花卉苗木", "万株", "花卉苗木种植"),
    ("粮油", "吨", "粮油种植"), ("生猪", "头", "生猪养殖"), ("禽蛋", "吨", "蛋鸡养殖"),
    ("水产", "吨", "水产养殖"), ("肉牛", "头", "肉牛养殖"), ("蜂蜜", "吨", "蜜蜂养殖"),
)
SOCIETY_TOPICS = (
    "个体劳动者", "餐饮行业", "书法家", "摄影家", "老年体育", "青年创业", "物流行业", "建筑业", "农村经纪人",
    "志愿者", "慈善", "商贸流通", "家政服务", "柚子产业", "乡村旅游", "旅游饭店", "汽车维修", "道路运输",
    "装饰装修", "中小企业", "电子商务", "茶叶产业", "水产养殖", "个私经济", "太极拳", "钓鱼", "围棋",
    "诗词", "作家", "音乐家",
)
SOCIETY_KINDS = ("协会", "商会", "联合会", "促进会")
PRIVATE_NONPROFIT_KINDS = ("幼儿园", "培训学校", "养老院", "社会工作服务中心", "职业技能培训学校")
# (unit name, GB/T 4754 section) in every street or town, then district-level units.
TOWN_INSTITUTIONS = (
    ("中心小学校", "P"), ("中学校", "P"), ("中心幼儿园", "P"), ("卫生院", "Q"), ("农业服务中心", "A"),
    ("文化服务中心", "R"), ("社区卫生服务中心", "Q"), ("便民服务中心", "S"), ("退役军人服务站", "S"),
    ("畜牧兽医站", "A"), ("水利站", "N"), ("社会保障服务所", "S"),
)
DISTRICT_INSTITUTIONS = (
    ("档案馆", "S"), ("图书馆", "R"), ("文化馆", "R"), ("人民医院", "Q"), ("中医院", "Q"),
    ("妇幼保健院", "Q"), ("疾病预防控制中心", "Q"), ("公共资源交易中心", "S"), ("城市管理综合执法支队", "S"),
    ("职业教育中心", "P"), ("实验中学校", "P"), ("第一中学校", "P"), ("第二中学校", "P"),
    ("实验小学校", "P"), ("融媒体中心", "R"), ("农业技术推广站", "A"), ("林业科技推广站", "A"),
    ("就业和人才服务中心", "S"), ("不动产登记中心", "S"), ("社会福利院", "Q"),
)


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

LEGAL_PERSON = "法人及非法人组织"
INDIVIDUAL_BUSINESS = "个体工商户"
NATURAL_PERSON = "自然人"


@dataclass(frozen=True)
class PenaltyTemplate:
    agency: str
    violation: str
    facts: tuple[str, str]    # two sentences; a multi-line 违法事实 breaks between them
    basis: str
    categories: tuple[str, ...]
    fines_wan: tuple[float, ...]
    subjects: tuple[str, ...]
    licence: str = ""         # the licence a 严重 case revokes; none: a 严重 case stops business
    licence_no_prefix: str = ""


PENALTY_TEMPLATES = (
    PenaltyTemplate("market", "违反产品质量管理规定", ("经查，当事人销售经抽检不合格的产品。", "货值金额较小，当事人积极配合调查。"),
                    "《中华人民共和国产品质量法》第四十九条", ("罚款", "没收违法所得"),
                    (0.2, 0.5, 1, 1.5, 2, 3, 5), (LEGAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("market", "违反食品安全管理规定", ("经查，当事人经营超过保质期的食品。", "现场查扣超过保质期的预包装食品一批。"),
                    "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项", ("罚款", "没收非法财物"),
                    (0.5, 1, 2, 5, 10), (LEGAL_PERSON, INDIVIDUAL_BUSINESS), "食品经营许可证", "JY2500115"),
    PenaltyTemplate("market", "价格违法", ("经查，当事人销售商品未按规定明码标价。", "责令改正后当事人已整改。"),
                    "《中华人民共和国价格法》第四十二条", ("警告", "罚款"),
                    (0.05, 0.1, 0.2, 0.5), (LEGAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("environment", "大气污染防治违法", ("经查，当事人超过大气污染物排放标准排放大气污染物。", "监测报告显示颗粒物排放浓度超标。"),
                    "《中华人民共和国大气污染防治法》第九十九条第（二）项", ("罚款",),
                    (10, 15, 20, 30, 50), (LEGAL_PERSON,), "排污许可证", "PW500115"),
    PenaltyTemplate("environment", "建设项目环境影响评价违法", ("经查，当事人建设项目环境影响报告表未经批准擅自开工建设。", "项目已建成投入生产。"),
                    "《中华人民共和国环境影响评价法》第三十一条第一款", ("罚款",),
                    (1, 2, 5, 8), (LEGAL_PERSON,)),
    PenaltyTemplate("transport", "道路运输违法", ("未取得道路运输经营许可，", "擅自从事道路运输经营。"),
                    "《中华人民共和国道路运输条例》第六十三条", ("罚款", "没收违法所得"),
                    (0.3, 0.5, 1, 2), (NATURAL_PERSON, LEGAL_PERSON, INDIVIDUAL_BUSINESS),
                    "道路运输经营许可证", "渝交运管许可长字500115"),
    PenaltyTemplate("transport", "超限运输", ("经检测，当事人驾驶的货运车辆车货总质量超过限定标准。", "超限率在百分之三十以内。"),
                    "《中华人民共和国公路法》第七十六条第（五）项", ("罚款",),
                    (0.02, 0.05, 0.1, 0.3), (NATURAL_PERSON, LEGAL_PERSON)),
    PenaltyTemplate("emergency", "安全生产违法", ("经查，当事人未按规定对从业人员进行安全生产教育和培训。", "部分特种作业人员未持证上岗。"),
                    "《中华人民共和国安全生产法》第九十七条第（三）项", ("警告", "罚款"),
                    (1, 2, 3, 5), (LEGAL_PERSON,)),
    PenaltyTemplate("fire", "消防安全违法", ("经查，当事人消防设施、器材未保持完好有效。", "疏散通道被杂物堵塞。"),
                    "《中华人民共和国消防法》第六十条第一款第（一）项", ("罚款",),
                    (0.5, 1, 2, 3), (LEGAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("urban", "市容环境卫生违法", ("经查，当事人擅自占用城市道路摆摊设点。", "经劝阻后拒不改正。"),
                    "《重庆市市容环境卫生管理条例》第六十条", ("罚款",),
                    (0.01, 0.02, 0.05, 0.1), (NATURAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("urban", "违法建设", ("经查，当事人未取得建设工程规划许可证擅自建设。", "违法建设面积约六十平方米。"),
                    "《中华人民共和国城乡规划法》第六十四条", ("罚款",),
                    (0.5, 1, 3, 5), (NATURAL_PERSON, LEGAL_PERSON)),
    PenaltyTemplate("tax", "税收违法", ("经查，当事人未按照规定期限办理纳税申报和报送纳税资料。", "逾期时间较长。"),
                    "《中华人民共和国税收征收管理法》第六十二条", ("罚款",),
                    (0.02, 0.05, 0.1, 0.2), (LEGAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("police", "违反治安管理", ("经查，违法行为人在公共场所与他人发生争执并殴打他人。", "造成他人轻微伤。"),
                    "《中华人民共和国治安管理处罚法》第四十三条第一款", ("行政拘留", "罚款"),
                    (0.02, 0.05), (NATURAL_PERSON,)),
    PenaltyTemplate("health", "医疗卫生违法", ("经查，当事人未取得医疗机构执业许可证擅自执业。", "违法所得数额较小。"),
                    "《中华人民共和国基本医疗卫生与健康促进法》第九十九条第一款", ("没收违法所得", "没收非法财物", "罚款"),
                    (2, 5, 10), (NATURAL_PERSON, INDIVIDUAL_BUSINESS)),
    PenaltyTemplate("agriculture", "农药经营违法", ("经查，当事人经营的农药经抽检为劣质农药。", "违法经营额较小。"),
                    "《农药管理条例》第五十六条", ("没收违法所得", "罚款"),
                    (0.5, 1, 2), (LEGAL_PERSON, INDIVIDUAL_BUSINESS), "农药经营许可证", "农药经许（渝）500115"),
    PenaltyTemplate("culture", "互联网上网服务违法", ("经查，当事人经营的上网服务营业场所接纳未成年人进入。", "现场发现未成年人上网。"),
                    "《互联网上网服务营业场所管理条例》第三十一条第（二）项", ("警告", "罚款"),
                    (0.5, 1), (INDIVIDUAL_BUSINESS, LEGAL_PERSON), "网络文化经营许可证", "渝网文500115"),
    PenaltyTemplate("labour", "社会保险违法", ("经查，当事人未按规定办理社会保险登记。", "涉及职工十余名。"),
                    "《中华人民共和国社会保险法》第八十四条", ("罚款",),
                    (0.1, 0.3, 0.5), (LEGAL_PERSON,)),
)
SUBJECT_WEIGHTS = {LEGAL_PERSON: 52, INDIVIDUAL_BUSINESS: 33, NATURAL_PERSON: 15}

# Publicity of a penalty by 失信程度 (months from the decision): repair is possible after the
# minimum, publication stops at the maximum.
PUBLICITY_MONTHS = {"一般": (3, 12), "严重": (12, 36)}

PARKING_CENTS_PER_MINUTE = 5
PARKING_MAX_DUE_CENTS = 6000  # a stay costs at most 60 元

# Deliberate faults and quirks, as shares of a file's rows (at least one of each per file).
BAD_USCC_SHARE = 0.005          # tax_credit: codes Excel turned into numbers, both forms
BAD_RIC_SHARE = 0.005           # penalty: 自然人 身份证号码 with a wrong check digit
BAD_REGISTER_SHARE = 0.002      # entity_register: mistyped check character
PADDED_SHARE = 0.01             # names and codes with ASCII or full-width spaces around
THOUSANDS_SHARE = 0.02
FULLWIDTH_SHARE = 0.01
LINE_BREAK_SHARE = 0.003
DATE_STYLE_SHARE = 0.08         # each of the three non-ISO date styles in penalty

_FULLWIDTH = str.maketrans(DIGITS, "０１２３４５６７８９")
_PADDINGS = ("{} ", "{}  ", "\u3000{}", "{}\u3000", " {}\u3000")


# ------------------------------------------------------------------------------ world

@dataclass(slots=True)
class Person:
    name: str
    ric: str  # 居民身份证号码


@dataclass(slots=True)
class Entity:
    uscc: str
    name: str
    kind: str  # 主体类型
    legal_rep: str
    established: Date
    status: str
    capital_wan: float | None
    section: str
    address: str
    town: str
    village: str = ""
    product: tuple[str, str, str] | None = None
    mistyped: bool = False  # registered with a wrong check character: not a valid entity

    @property
    def numeric_code(self) -> bool:
        return self.uscc.isdigit()


@dataclass(slots=True)
class Household:
    head: Person
    town: str
    village: str
    good: bool  # 优/良 and no overdue loan: what a credit household looks like


@dataclass
class World:
    entities: list[Entity]
    households: list[Household]
    persons: list[Person]

    @property
    def valid_entities(self) -> list[Entity]:
        return [e for e in self.entities if not e.mistyped]


class _Uniques:
    """Draws values until one is new: codes and names must not repeat."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def draw(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value


def _person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN_NAME_CHARS)
    if rng.random() < 0.65:
        given += rng.choice(GIVEN_NAME_CHARS)
    return rng.choice(SURNAMES) + given


def _ric(rng: random.Random, region: str, first_year: int, last_year: int) -> str:
    birth = Date.fromordinal(rng.randint(Date(first_year, 1, 1).toordinal(), Date(last_year, 12, 31).toordinal()))
    body = f"{region}{birth.year}{birth.month:02d}{birth.day:02d}{rng.randint(1, 999):03d}"
    return body + ric_check_char(body)


def _uscc(rng: random.Random, prefix: str, established: Date) -> str:
    """A USCC with the given 8-character prefix (authority, type, region).

    Its organisation code (characters 9-17) looks like the real ones: since the 2015 reform
    MA followed by digits and letters; before, the old 9-digit organisation code, whose
    check character is sometimes a letter. About a third of old codes are all digits,
    which is what lets Excel turn them into numbers.
    """
    if established >= MODERN_CODES_FROM:
        tail = "".join(rng.choice(DIGITS) if rng.random() < 0.6 else rng.choice(USCC_LETTERS) for _ in range(7))
        body = prefix + "MA" + tail
    else:
        body = prefix + "".join(rng.choices(DIGITS, k=8)) + rng.choice(DIGITS * 3 + "X")
    return body + uscc_check_char(body)


def _skewed_date(rng: random.Random, first: Date, last: Date, recent_bias: float) -> Date:
    """A date in [first, last]; recent_bias < 1 makes recent dates more likely."""
    span = (last - first).days
    return first + datetime.timedelta(days=int(span * rng.random() ** recent_bias))


def _add_months(day: Date, months: int) -> Date:
    """Same day of the month, months later; the month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return Date(year, month, min(day.day, monthrange(year, month)[1]))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """total split into parts of similar (±30%) random size."""
    weights = [rng.uniform(0.7, 1.3) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % parts] += 1
    return sizes


def _short_town(town: str) -> str:
    return town.removesuffix("街道").removesuffix("镇")


def _build_world(cfg: dict[str, int], rng: random.Random, as_of: Date) -> World:
    rural_towns = list(RURAL_TOWNS)
    villages = {town: rng.sample(VILLAGE_NAMES, cfg["villages_per_town"]) for town in rural_towns}
    rics = _Uniques()
    households = _build_households(cfg, rng, rural_towns, villages, rics)
    others = [Person(_person_name(rng), rics.draw(lambda: _ric(
        rng, DISTRICT_REGION if rng.random() < 0.75 else rng.choice(OTHER_REGIONS), 1950, 2005)))
        for _ in range(cfg["other_residents"])]
    entities = _build_entities(cfg, rng, as_of, villages)
    return World(entities, households, [h.head for h in households] + others)


def _build_households(cfg: dict[str, int], rng: random.Random, rural_towns: list[str],
                      villages: dict[str, list[str]], rics: _Uniques) -> list[Household]:
    """Households of the rated villages, with a planned share of good households per village.

    Towns are spread from "every village a credit village" (>= 70% good households) to
    "none", so a town-level rating (>= 50% credit villages) has both outcomes too. Shares
    keep clear of 70% so rounding cannot move a village across the line.
    """
    towns = rng.sample(rural_towns, cfg["household_towns"])
    per_town = cfg["villages_per_town"]
    rated = [(town, village) for town in towns for village in villages[town]]
    sizes = _split(rng, cfg["households"], len(rated))
    households: list[Household] = []
    for town_index, town in enumerate(towns):
        spread = (len(towns) - 1 - town_index) / max(1, len(towns) - 1)
        credit_villages = round(per_town * spread)
        for village_index, village in enumerate(villages[town]):
            size = sizes[town_index * per_town + village_index]
            good_share = rng.uniform(0.76, 0.95) if village_index < credit_villages else rng.uniform(0.40, 0.64)
            good_count = round(size * good_share)
            flags = [True] * good_count + [False] * (size - good_count)
            rng.shuffle(flags)
            for good in flags:
                region = DISTRICT_REGION if rng.random() < 0.97 else rng.choice(OTHER_REGIONS)
                head = Person(_person_name(rng), rics.draw(lambda: _ric(rng, region, 1950, 1998)))
                households.append(Household(head, town, village, good))
    return households


def _build_entities(cfg: dict[str, int], rng: random.Random, as_of: Date,
                    villages: dict[str, list[str]]) -> list[Entity]:
    codes, names = _Uniques(), _Uniques()
    towns, town_weights = list(TOWN_WEIGHTS), list(TOWN_WEIGHTS.values())
    yesterday = as_of - DAY

    def place() -> tuple[str, str]:
        town = rng.choices(towns, town_weights)[0]
        if town in villages and rng.random() < 0.5:
            return town, f"{DISTRICT}{town}{rng.choice(villages[town])}{rng.randint(1, 12)}组"
        return town, f"{DISTRICT}{town}{rng.choice(ROADS)}{rng.randint(1, 399)}号"

    def status(weights: tuple[int, int, int, int, int]) -> str:
        return rng.choices(("存续", "在业", "吊销", "注销", "迁出"), weights)[0]

    entities: list[Entity] = []
    for _ in range(cfg["enterprises"]):
        trade, section = rng.choice(ENTERPRISE_TRADES)
        suffix = rng.choices(("有限公司", "有限责任公司", "股份有限公司"), (85, 12, 3))[0]
        name = names.draw(lambda: rng.choice(("重庆", "重庆", "重庆长寿", DISTRICT))
                          + "".join(rng.sample(BRAND_WORDS, rng.choice((1, 2)))) + trade + suffix)
        region = DISTRICT_REGION if rng.random() < 0.97 else "500000"  # a few registered by the city
        established = _skewed_date(rng, Date(1998, 1, 1), yesterday, 0.7)
        town, address = place()
        entities.append(Entity(
            codes.draw(lambda: _uscc(rng, "91" + region, established)), name, "企业", _person_name(rng),
            established, status((86, 5, 3, 5, 1)), rng.choice(ENTERPRISE_CAPITALS_WAN), section, address, town))
    for _ in range(cfg["individual_businesses"]):
        trade, section = rng.choice(INDIVIDUAL_TRADES)
        town, address = place()

        def individual_name() -> str:
            style = rng.random()
            brand = (rng.choice(BRAND_WORDS) if style < 0.5 else
                     rng.choice(SURNAMES) + rng.choice(("记", "氏", "家")) if style < 0.8 else
                     "老" + rng.choice(SURNAMES))
            return "长寿区" + (_short_town(town) if rng.random() < 0.5 else "") + brand + trade
        established = _skewed_date(rng, Date(2003, 1, 1), yesterday, 0.5)
        entities.append(Entity(
            codes.draw(lambda: _uscc(rng, "92" + DISTRICT_REGION, established)),
            names.draw(individual_name), "个体工商户", _person_name(rng), established, status((30, 60, 4, 6, 0)),
            rng.choice((1, 2, 3, 5, 10, 20, 50)) if rng.random() < 0.6 else None, section, address, town))
    cooperatives = []
    for _ in range(cfg["cooperatives"]):
        town = rng.choice(list(villages))
        village = rng.choice(villages[town])
        product = rng.choice(FARM_PRODUCTS)
        name = names.draw(lambda: DISTRICT + (
            town + village if rng.random() < 0.5 else "".join(rng.sample(BRAND_WORDS, rng.choice((1, 2)))))
            + product[2] + "专业合作社")
        established = _skewed_date(rng, Date(2008, 1, 1), yesterday, 0.9)
        cooperatives.append(Entity(
            codes.draw(lambda: _uscc(rng, "93" + DISTRICT_REGION, established)), name, "农民专业合作社",
            _person_name(rng), established, status((85, 5, 5, 5, 0)),
            rng.choice((10, 30, 50, 100, 200, 500, 1000)), "A",
            f"{DISTRICT}{town}{village}{rng.randint(1, 12)}组", town, village, product))
    # The oldest active cooperatives kept the code agriculture (N) gave them.
    active = sorted((c for c in cooperatives if c.status in ("存续", "在业")), key=lambda c: c.established)
    for cooperative in active[:max(1, round(len(cooperatives) * 0.1))]:
        cooperative.uscc = codes.draw(lambda: _uscc(rng, "N2" + DISTRICT_REGION, cooperative.established))
    entities += cooperatives
    entities += _non_profits(cfg, rng, codes, yesterday, place)
    rng.shuffle(entities)  # a register export is not grouped by type
    businesses = [e for e in entities if e.kind in ("企业", "个体工商户")]
    for entity in rng.sample(businesses, max(1, round(len(entities) * BAD_REGISTER_SHARE))):
        entity.mistyped = True
    return entities


def _non_profits(cfg: dict[str, int], rng: random.Random, codes: _Uniques, yesterday: Date,
                 place: Callable[[], tuple[str, str]]) -> list[Entity]:
    societies = [(DISTRICT + topic + kind, "51") for topic in SOCIETY_TOPICS for kind in SOCIETY_KINDS]
    societies += [("长寿区" + brand + kind, "52") for brand in BRAND_WORDS for kind in PRIVATE_NONPROFIT_KINDS]
    institutions = [(DISTRICT + town + unit, section, town) for town in TOWN_WEIGHTS
                    for unit, section in TOWN_INSTITUTIONS]
    institutions += [(DISTRICT + unit, section, "") for unit, section in DISTRICT_INSTITUTIONS]
    result = []
    for name, prefix in rng.sample(societies, cfg["social_organizations"]):
        town, address = place()
        established = _skewed_date(rng, Date(1995, 1, 1), yesterday, 1.0)
        result.append(Entity(
            codes.draw(lambda: _uscc(rng, prefix + DISTRICT_REGION, established)), name, "社会组织",
            _person_name(rng), established, rng.choices(("存续", "注销"), (97, 3))[0],
            rng.choice((3, 5, 10, 30, 50)), "P" if prefix == "52" else "S", address, town))
    for name, section, home in rng.sample(institutions, cfg["public_institutions"]):
        town, address = place()
        if home:
            town, address = home, f"{DISTRICT}{home}{rng.choice(ROADS)}{rng.randint(1, 399)}号"
        established = _skewed_date(rng, Date(1990, 1, 1), yesterday, 1.0)
        result.append(Entity(
            codes.draw(lambda: _uscc(rng, "12" + DISTRICT_REGION, established)), name, "事业单位",
            _person_name(rng), established, "存续",
            rng.choice((10, 50, 100, 500, 1000)), section, address, town))
    return result


# ---------------------------------------------------------------------------- reports

@dataclass
class FileReport:
    """What the manifest says about one written file."""

    feed: str
    file: str
    kind: str       # data | duplicate | partial | broken_header
    encoding: str
    line_end: str
    rows: int = 0
    bad: dict[int, str] = field(default_factory=dict)           # file row -> reason
    quirks: dict[str, list[int]] = field(default_factory=dict)  # quirk -> file rows
    extra: dict[str, object] = field(default_factory=dict)

    def mark_bad(self, index: int, reason: str) -> None:
        self.bad[index + 2] = reason  # index 0 = first data record = row 2

    def mark_quirk(self, index: int, quirk: str) -> None:
        self.quirks.setdefault(quirk, []).append(index + 2)

    def manifest(self, with_row_numbers: bool) -> dict:
        reasons: dict[str, int] = {}
        for reason in self.bad.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        entry: dict[str, object] = {
            "feed": self.feed, "file": self.file, "kind": self.kind, "encoding": self.encoding,
            "line_end": self.line_end, "rows": self.rows, "bad_rows": len(self.bad),
            "bad_reasons": dict(sorted(reasons.items())),
            "quirks": {name: len(rows) for name, rows in sorted(self.quirks.items())},
        }
        if with_row_numbers:
            entry["bad_row_numbers"] = sorted(self.bad)
            entry["bad_rows_by_reason"] = {reason: sorted(r for r, why in self.bad.items() if why == reason)
                                           for reason in sorted(reasons)}
            entry["quirk_row_numbers"] = {name: sorted(rows) for name, rows in sorted(self.quirks.items())}
        entry.update(self.extra)
        return entry


def _pick(rng: random.Random, candidates: Sequence[int], count: int) -> list[int]:
    return sorted(rng.sample(list(candidates), min(count, len(candidates))))


def _share(rows: int, share: float) -> int:
    return max(1, round(rows * share))


def _pad(rng: random.Random, text: str) -> str:
    return rng.choice(_PADDINGS).format(text)


def _amount(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _file_name(feed: str, day: Date, seq: int | None, ext: str) -> str:
    return f"{feed}_{day:%Y%m%d}{'' if seq is None else f'_{seq}'}.{ext}"


def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]], encoding: str,
               line_end: str = "\r\n", on_row: Callable[[int], None] | None = None) -> int:
    count = 0
    with open(path, "w", encoding=encoding, newline="", buffering=1 << 20) as handle:
        writer = csv.writer(handle, lineterminator=line_end)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
            if on_row is not None:
                on_row(count)
    return count


_XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_PARTS = {
    "[Content_Types].xml":
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
    "_rels/.rels":
        f'<Relationships xmlns="{_RELS_NS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
        'core-properties" Target="docProps/core.xml"/></Relationships>',
    "xl/workbook.xml":
        f'<workbook xmlns="{_XLSX_NS}" xmlns:r="{_DOC_RELS}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels":
        f'<Relationships xmlns="{_RELS_NS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/></Relationships>',
    "xl/styles.xml":
        f'<styleSheet xmlns="{_XLSX_NS}">'
        '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}


def _xlsx_cell(reference: str, value: str | int | float) -> str:
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{reference}" t="inlineStr"><is><t{space}>{xml_escape(value)}</t></is></c>'
    return f'<c r="{reference}"><v>{value!r}</v></c>'


def _write_xlsx(path: Path, header: list[str], rows: Iterable[list], row_count: int, as_of: Date,
                on_row: Callable[[int], None] | None = None) -> int:
    """One-sheet workbook, header in row 1: str values are text cells, numbers number cells.

    Written directly as SpreadsheetML (inline strings), streamed: openpyxl without lxml
    needs half a minute for 100,000 rows, and stamps the save time into the file. Here the
    ZIP entries and document properties carry fixed times, so the bytes depend on the
    content only (and on zlib compressing the same way).
    """
    columns = [chr(ord("A") + i) for i in range(len(header))]
    stamp = f"{as_of.isoformat()}T00:00:00Z"
    core = ('<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>synthetic.generate</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>')

    def entry(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    count = 0
    with zipfile.ZipFile(path, "w") as archive:
        for name, xml in {**_XLSX_PARTS, "docProps/core.xml": core}.items():
            archive.writestr(entry(name), _XML_DECLARATION + xml)
        with archive.open(entry("xl/worksheets/sheet1.xml"), "w") as sheet:
            sheet.write((f'{_XML_DECLARATION}<worksheet xmlns="{_XLSX_NS}">'
                         f'<dimension ref="A1:{columns[-1]}{row_count + 1}"/><sheetData>').encode("utf-8"))
            chunk = ['<row r="1">' + "".join(_xlsx_cell(f"{c}1", h) for c, h in zip(columns, header)) + "</row>"]
            for count, row in enumerate(rows, start=1):
                number = count + 1
                chunk.append(f'<row r="{number}">'
                             + "".join(_xlsx_cell(f"{c}{number}", v) for c, v in zip(columns, row) if v != "")
                             + "</row>")
                if len(chunk) >= 2000:
                    sheet.write("".join(chunk).encode("utf-8"))
                    chunk = []
                if on_row is not None:
                    on_row(count)
            chunk.append("</sheetData></worksheet>")
            sheet.write("".join(chunk).encode("utf-8"))
    if count != row_count:
        raise ValueError(f"{path.name}: {count} rows written, {row_count} announced")
    return count


class _Progress:
    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def counter(self, feed: str, total: int) -> Callable[[int], None]:
        """Reports every PROGRESS_EVERY rows and at total."""
        def on_row(done: int) -> None:
            if self._callback is not None and (done % PROGRESS_EVERY == 0 or done == total):
                self._callback(feed, done, total)
        return on_row


# ---------------------------------------------------------------------- entity_register

def _entity_row(entity: Entity) -> list[str]:
    return [entity.uscc, entity.name, entity.kind, entity.legal_rep, entity.established.isoformat(),
            entity.status, "" if entity.capital_wan is None else _amount(entity.capital_wan),
            entity.section, entity.address, entity.town]


def _write_entity_register(folder: Path, world: World, rng: random.Random, as_of: Date,
                           progress: _Progress) -> FileReport:
    name = _file_name("entity_register", as_of, None, "csv")
    report = FileReport("entity_register", name, "data", "utf-8-sig", "CRLF")
    rows = [_entity_row(e) for e in world.entities]
    for index, entity in enumerate(world.entities):
        if entity.mistyped:
            right = entity.uscc[17]
            rows[index][0] = entity.uscc[:17] + rng.choice([c for c in USCC_ALPHABET if c != right])
            report.mark_bad(index, "uscc_check_character")
    fine = [i for i, e in enumerate(world.entities) if not e.mistyped]
    for index in _pick(rng, fine, _share(len(rows), PADDED_SHARE)):
        column = rng.choice((0, 1))
        rows[index][column] = _pad(rng, rows[index][column])
        report.mark_quirk(index, "padded_whitespace")
    large = [i for i, e in enumerate(world.entities) if (e.capital_wan or 0) >= 1000]
    for index in _pick(rng, large, _share(len(rows), THOUSANDS_SHARE)):
        rows[index][6] = f"{world.entities[index].capital_wan:,.0f}"
        report.mark_quirk(index, "thousands_separator")
    report.rows = _write_csv(folder / name, ENTITY_HEADER, rows, "utf-8-sig",
                             on_row=progress.counter("entity_register", len(rows)))
    return report


def _write_broken_header_register(folder: Path, rng: random.Random, as_of: Date) -> FileReport:
    """A second register file of the day whose key header a clerk renamed: all rows are lost."""
    name = _file_name("entity_register", as_of, 2, "csv")
    report = FileReport("entity_register", name, "broken_header", "utf-8-sig", "CRLF")
    rows = []
    for _ in range(5):
        trade, section = rng.choice(ENTERPRISE_TRADES)
        rows.append([_uscc(rng, "91" + DISTRICT_REGION, as_of), f"重庆{rng.choice(BRAND_WORDS)}{trade}有限公司", "企业",
                     _person_name(rng), as_of.isoformat(), "存续", "100", section,
                     f"{DISTRICT}凤城街道{rng.choice(ROADS)}{rng.randint(1, 399)}号", "凤城街道"])
    header = ["社会信用代码" if h == "统一社会信用代码" else h for h in ENTITY_HEADER]
    report.rows = _write_csv(folder / name, header, rows, "utf-8-sig")
    for index in range(report.rows):
        report.mark_bad(index, "missing_required_column")
    return report


# --------------------------------------------------------------------------- tax_credit

def _tax_data_date(as_of: Date) -> Date:
    """Arrears are reported monthly, as of the 15th."""
    return as_of.replace(day=15) if as_of.day >= 15 else _add_months(as_of.replace(day=15), -1)


def _write_tax_credit(folder: Path, world: World, rng: random.Random, as_of: Date,
                      progress: _Progress) -> list[FileReport]:
    taxed = [e for e in world.valid_entities
             if e.kind in ("企业", "农民专业合作社") or (e.kind == "个体工商户" and rng.random() < 0.4)]
    data_date = _tax_data_date(as_of).isoformat()
    rows: list[list[str]] = []
    subjects: list[Entity] = []
    arrears: list[int] = []  # cents, per row
    for year in (as_of.year - 2, as_of.year - 1):
        for entity in taxed:
            if entity.established.year > year:
                continue
            if entity.established.year == year:
                grade = "M"  # newly established: not yet graded
            elif entity.status == "吊销" and rng.random() < 0.5:
                grade = "D"
            else:
                grade = rng.choices("ABMCD", (24, 46, 12, 16, 2))[0]
            score = {"A": (90, 100), "B": (70, 89), "C": (40, 69), "D": (0, 39)}.get(grade)
            score_text = "" if score is None or (grade == "D" and rng.random() < 0.3) else str(rng.randint(*score))
            owes = rng.random() < (0.3 if grade in "CD" else 0.04)
            cents = int(math.exp(rng.uniform(9, 17))) // 10 * 10 if owes else 0  # 80 元 to 240,000 元
            rows.append([entity.uscc, entity.name, str(year), grade, score_text,
                         _amount(cents / 100) if owes else rng.choice(("0", "0", "0", "")), "否", data_date])
            subjects.append(entity)
            arrears.append(cents)

    # About a third of this year's D grades are also listed as major tax violators.
    latest_d = [i for i, row in enumerate(rows) if row[2] == str(as_of.year - 1) and row[3] == "D"]
    for index in _pick(rng, latest_d, max(1, round(len(latest_d) * 0.35))):
        rows[index][6] = "是"

    name = _file_name("tax_credit", as_of, None, "csv")
    report = FileReport("tax_credit", name, "data", "gb18030", "CRLF")
    numeric = [i for i, e in enumerate(subjects) if e.numeric_code]
    per_form = _share(len(rows), BAD_USCC_SHARE / 2)
    scientific = _pick(rng, numeric, per_form)
    for index in scientific:
        rows[index][0] = f"{int(subjects[index].uscc):.5E}"  # what Excel shows: 9.15001E+17
        report.mark_bad(index, "uscc_excel_scientific")
    truncated = 0
    unused = [i for i in numeric if i + 2 not in report.bad]
    for index in rng.sample(unused, len(unused)):
        if truncated == per_form:
            break
        mangled = subjects[index].uscc[:15] + "000"  # Excel keeps 15 significant digits
        if uscc_check_char(mangled[:17]) != mangled[17]:
            rows[index][0] = mangled
            report.mark_bad(index, "uscc_excel_truncated")
            truncated += 1
    fine = [i for i in range(len(rows)) if i + 2 not in report.bad]
    for index in _pick(rng, fine, _share(len(rows), PADDED_SHARE)):
        column = rng.choice((0, 1))
        rows[index][column] = _pad(rng, rows[index][column])
        report.mark_quirk(index, "padded_whitespace")
    owing = [i for i in fine if arrears[i] >= 100_000]
    separated = _pick(rng, owing, _share(len(rows), THOUSANDS_SHARE))
    for index in separated:
        rows[index][5] = f"{arrears[index] / 100:,.2f}"
        report.mark_quirk(index, "thousands_separator")
    for index in _pick(rng, [i for i in owing if i not in separated], _share(len(rows), FULLWIDTH_SHARE)):
        rows[index][5] = f"{arrears[index] / 100:.2f}".translate(_FULLWIDTH)
        report.mark_quirk(index, "fullwidth_digits")
    report.rows = _write_csv(folder / name, TAX_HEADER, rows, "gb18030",
                             on_row=progress.counter("tax_credit", len(rows)))

    # The department drops the same export a second time.
    duplicate_name = _file_name("tax_credit", as_of, 2, "csv")
    shutil.copyfile(folder / name, folder / duplicate_name)
    duplicate = FileReport("tax_credit", duplicate_name, "duplicate", "gb18030", "CRLF", rows=report.rows,
                           bad=dict(report.bad), quirks={k: list(v) for k, v in report.quirks.items()},
                           extra={"duplicate_of": name})
    return [report, duplicate]


# ------------------------------------------------------------------------------ penalty

@dataclass
class Penalty:
    template: PenaltyTemplate
    category: str             # 行政相对人类别
    subject_name: str
    uscc: str
    legal_rep: str
    ric: str
    decided: Date
    valid_until: Date
    publicity_until: Date | None
    dishonesty: str           # 一般 / 严重 / "" (the platform's policy decides)
    categories: list[str]
    content: str
    fine_wan: float | None
    confiscated_wan: float | None
    licence: str
    remark: str
    doc_no: str = ""

    @property
    def agency(self) -> Agency:
        return AGENCIES[self.template.agency]


def _format_date(day: Date, style: str) -> str:
    if style == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if style == "compact":
        return f"{day:%Y%m%d}"
    if style == "chinese":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def _draw_penalty(rng: random.Random, as_of: Date, world: World, legal_persons: list[Entity],
                  individual_businesses: list[Entity]) -> Penalty:
    category = rng.choices(list(SUBJECT_WEIGHTS), list(SUBJECT_WEIGHTS.values()))[0]
    template = rng.choice([t for t in PENALTY_TEMPLATES if category in t.subjects])
    earliest = as_of - datetime.timedelta(days=4 * 365)
    if category == NATURAL_PERSON:
        person = rng.choice(world.persons)
        subject_name, uscc, legal_rep, ric = person.name, "", "", person.ric
    else:
        pool = legal_persons if category == LEGAL_PERSON else individual_businesses
        while True:  # repeat offenders are common: favour the front of the pool
            entity = pool[int(len(pool) * rng.random() ** 1.5)]
            if entity.established + 30 * DAY < as_of:
                break
        subject_name, uscc, legal_rep, ric = entity.name, entity.uscc, entity.legal_rep, ""
        earliest = max(earliest, entity.established + 30 * DAY)
    decided = _skewed_date(rng, earliest, as_of, 0.8)

    severe_possible = category != NATURAL_PERSON and template.fines_wan[-1] >= 1
    dishonesty = rng.choices(("", "一般", "严重"), (55, 40, 5 if severe_possible else 0))[0]
    if "警告" in template.categories and dishonesty != "严重" and rng.random() < 0.25:
        categories = ["警告"]  # a warning alone, no fine
    else:  # fines and detention always; warnings and confiscations in some cases
        categories = [c for c in template.categories if c in ("罚款", "行政拘留") or rng.random() < 0.6]
    fines = template.fines_wan
    fine = rng.choice(fines[len(fines) // 2:] if dishonesty == "严重" else fines)
    licence = ""
    if dishonesty == "严重":
        if template.licence:
            categories.append("吊销许可证件")
            licence = f"{template.licence}（{template.licence_no_prefix}{rng.randint(1, 99999):05d}）"
        else:
            categories.append("责令停产停业")
    confiscated = round(rng.uniform(0.01, 2), 2) if any(c.startswith("没收") for c in categories) else None

    parts = []
    for c in categories:
        if c == "罚款":
            parts.append(f"罚款人民币{int(round(fine * 10000))}元" if fine < 1 and rng.random() < 0.5
                         else f"罚款人民币{_amount(fine)}万元")
        elif c == "没收违法所得":
            parts.append(f"没收违法所得人民币{int(round(confiscated * 10000))}元")
        elif c == "行政拘留":
            parts.append(f"行政拘留{rng.choice((3, 5, 7, 10))}日")
        elif c == "吊销许可证件":
            parts.append(f"吊销{licence}")
        elif c == "责令停产停业":
            parts.append("责令停产停业整顿")
        else:
            parts.append(c)

    years = 3 if dishonesty == "严重" else 1
    valid_until = _add_months(decided, 12 * years) - (DAY if rng.random() < 0.5 else datetime.timedelta())
    publicity_until = None
    if dishonesty and rng.random() < 0.15:
        low, high = PUBLICITY_MONTHS[dishonesty]
        publicity_until = _add_months(decided, rng.choice((low * 2, high)))
    return Penalty(
        template, category, subject_name, uscc, legal_rep, ric, decided, valid_until, publicity_until,
        dishonesty, categories, "；".join(parts), fine if "罚款" in categories else None, confiscated,
        licence, rng.choices(("", "当事人已履行处罚决定", "已缴纳罚款", "依法从轻处罚"), (85, 6, 6, 3))[0])


def _write_penalty(folder: Path, world: World, cfg: dict[str, int], rng: random.Random, as_of: Date,
                   progress: _Progress) -> tuple[FileReport, list[Penalty]]:
    valid = world.valid_entities
    legal_persons = [e for e in valid if e.kind != "个体工商户"]
    individual_businesses = [e for e in valid if e.kind == "个体工商户"]
    penalties = [_draw_penalty(rng, as_of, world, legal_persons, individual_businesses)
                 for _ in range(cfg["penalties"])]
    penalties.sort(key=lambda p: p.decided)
    next_number: dict[tuple[str, int], int] = {}
    for p in penalties:
        key = (p.template.agency, p.decided.year)
        number = next_number.get(key) or rng.randint(1, 60)
        next_number[key] = number + 1
        p.doc_no = f"{p.agency.doc_prefix}〔{p.decided.year}〕{number}号"

    name = _file_name("penalty", as_of, None, "csv")
    report = FileReport("penalty", name, "data", "gb18030", "CRLF")
    natural = [i for i, p in enumerate(penalties) if p.category == NATURAL_PERSON]
    broken_rics = _pick(rng, natural, _share(len(penalties), BAD_RIC_SHARE))
    for index in broken_rics:
        report.mark_bad(index, "ric_check_digit")
    everyone = range(len(penalties))
    styles = ["iso"] * len(penalties)
    free = list(everyone)
    for style in ("slash", "compact", "chinese"):
        chosen = _pick(rng, free, _share(len(penalties), DATE_STYLE_SHARE))
        for index in chosen:
            styles[index] = style
            report.mark_quirk(index, f"date_{style}")
        free = [i for i in free if styles[i] == "iso"]
    line_breaks = set(_pick(rng, everyone, _share(len(penalties), LINE_BREAK_SHARE)))
    fined = [i for i, p in enumerate(penalties) if p.fine_wan is not None]
    fullwidth = set(_pick(rng, fined, _share(len(penalties), FULLWIDTH_SHARE)))
    padded = set(_pick(rng, [i for i in everyone if i + 2 not in report.bad], _share(len(penalties), PADDED_SHARE)))

    def rows():
        for index, p in enumerate(penalties):
            ric = p.ric
            if index in broken_rics:
                ric = ric[:17] + rng.choice([c for c in "0123456789X" if c != ric[17]])
            facts = ("\n" if index in line_breaks else "").join(p.template.facts)
            fine = ""
            if p.fine_wan is not None:
                fine = f"{p.fine_wan:.2f}".translate(_FULLWIDTH) if index in fullwidth else _amount(p.fine_wan)
            subject = _pad(rng, p.subject_name) if index in padded else p.subject_name
            style = styles[index]
            yield [subject, p.category, p.uscc, p.legal_rep, "身份证" if p.ric else "", ric, p.doc_no,
                   p.template.violation, facts, p.template.basis,
                   rng.choices((";", "；"), (80, 20))[0].join(p.categories), p.content, fine,
                   "" if p.confiscated_wan is None else _amount(p.confiscated_wan), p.licence,
                   _format_date(p.decided, style), _format_date(p.valid_until, style),
                   "" if p.publicity_until is None else _format_date(p.publicity_until, style),
                   p.dishonesty, p.agency.name, p.agency.uscc, CREDIT_OFFICE.name, CREDIT_OFFICE.uscc, p.remark]

    for index in sorted(line_breaks):
        report.mark_quirk(index, "line_break_in_value")
    for index in sorted(fullwidth):
        report.mark_quirk(index, "fullwidth_digits")
    for index in sorted(padded):
        report.mark_quirk(index, "padded_whitespace")
    report.rows = _write_csv(folder / name, PENALTY_HEADER, rows(), "gb18030",
                             on_row=progress.counter("penalty", len(penalties)))
    published = [p for i, p in enumerate(penalties) if i not in broken_rics]
    return report, published


# ------------------------------------------------------------------------ credit_repair

def _write_credit_repair(folder: Path, penalties: list[Penalty], cfg: dict[str, int], rng: random.Random,
                         as_of: Date, progress: _Progress) -> FileReport:
    """Repairs of penalties whose 失信程度 is given, decided inside the repairable window:
    after the minimum publicity period and before publication ends."""
    windows = []
    for p in penalties:
        if not p.dishonesty:
            continue
        low, high = PUBLICITY_MONTHS[p.dishonesty]
        first = _add_months(p.decided, low) + DAY
        last = min(_add_months(p.decided, high), as_of, p.publicity_until or as_of)
        if first <= last:
            windows.append((p, first, last))
    repairs = []
    for p, first, last in rng.sample(windows, min(cfg["repairs"], len(windows))):
        day = first + datetime.timedelta(days=rng.randint(0, (last - first).days))
        method = rng.choices(("信用承诺", "信用报告", "专题培训", "其他", ""), (50, 20, 20, 5, 5))[0]
        repairs.append((day, p.doc_no, p.agency.uscc, method))
    repairs.sort()
    name = _file_name("credit_repair", as_of, None, "csv")
    report = FileReport("credit_repair", name, "data", "utf-8", "CRLF")
    rows = [[doc_no, agency_uscc, day.isoformat(), CREDIT_OFFICE.name, method]
            for day, doc_no, agency_uscc, method in repairs]
    report.rows = _write_csv(folder / name, REPAIR_HEADER, rows, "utf-8",
                             on_row=progress.counter("credit_repair", len(rows)))
    return report


# ------------------------------------------------------------------------------ parking

def _plates(rng: random.Random, count: int, uniques: _Uniques) -> list[str]:
    """渝A12345 style, or 渝AD12345 for new-energy cars."""
    def plate() -> str:
        city = rng.choices("ABDG", (50, 25, 15, 10))[0]
        energy = rng.choice("DF") if rng.random() < 0.25 else ""
        return f"渝{city}{energy}{rng.randint(0, 99999):05d}"
    return [uniques.draw(plate) for _ in range(count)]


class _ParkingDays:
    """Text of every date and minute a parking record can carry, so the hot loop only indexes."""

    def __init__(self, first_day: Date, days: int) -> None:
        self.first_day = first_day
        self.dates = [(first_day + d * DAY).isoformat() for d in range(days + 3)]
        self.compact = [(first_day + d * DAY).strftime("%Y%m%d") for d in range(days + 3)]
        self.clock = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
        self.seconds = [f"{s:02d}" for s in range(60)]

    def text(self, minute: int, second: int) -> str:
        day, minute_of_day = divmod(minute, 1440)
        return f"{self.dates[day]} {self.clock[minute_of_day]}{self.seconds[second]}"


def _write_parking(folder: Path, world: World, cfg: dict[str, int], rng: random.Random, as_of: Date,
                   progress: _Progress) -> list[FileReport]:
    plates = _Uniques()
    people = rng.sample(world.persons, cfg["car_owners"])
    person_cars = list(zip(_plates(rng, len(people), plates), (p.ric for p in people)))
    units = [e for e in world.valid_entities
             if e.kind in ("企业", "事业单位", "社会组织") and e.status in ("存续", "在业")]
    unit_owners = [rng.choice(units).uscc for _ in range(cfg["unit_vehicles"])]
    unit_cars = list(zip(_plates(rng, len(unit_owners), plates), unit_owners))

    days = cfg["parking_days"]
    last_day = days - 1  # index of as_of
    stamps = _ParkingDays(as_of - last_day * DAY, days)
    end_minute = days * 1440 - 1  # as_of 23:59
    berths = [f"CS-{b:04d}" for b in range(cfg["parking_berths"])]
    per_day = _split(rng, cfg["parking_records"], days)
    total = cfg["parking_records"]
    # The last cars of as_of are still parked when the file is cut.
    still_parked = max(2, per_day[-1] // 100)
    on_row = progress.counter("parking", total)
    name = _file_name("parking", as_of, None, "csv")
    report = FileReport("parking", name, "data", "utf-8", "LF")
    arrears: list[list[str]] = []   # reservoir sample of 欠费 records to settle in the next file
    parked: list[list[str]] = []
    wanted = cfg["parking_updates"]

    random_ = rng.random
    expovariate = rng.expovariate
    triangular = rng.triangular
    person_count, unit_count, berth_count = len(person_cars), len(unit_cars), len(berths)
    fee_text = [_yuan(cents) for cents in range(PARKING_MAX_DUE_CENTS + 1)]

    def below(n: int) -> int:
        """Uniform in [0, n): random.randrange is several times slower, and this loop is hot."""
        return int(random_() * n)

    def rows():
        seen_arrears = 0
        written = 0
        for day in range(days):
            count = per_day[day]
            entries = sorted(int(triangular(300, 1439, 660)) for _ in range(count))
            prefix = "BSP" + stamps.compact[day]
            for seq, entry_of_day in enumerate(entries):
                if random_() < 0.85:
                    plate, owner = person_cars[int(person_count * random_() ** 2)]
                    owner_type = "个人"
                else:
                    plate, owner = unit_cars[int(unit_count * random_() ** 2)]
                    owner_type = "单位"
                entry = day * 1440 + entry_of_day
                entered = stamps.text(entry, below(60))
                record = f"{prefix}{seq:05d}"
                berth = berths[below(berth_count)]
                if day == last_day and seq >= count - still_parked:
                    row = [record, plate, owner_type, owner, berth, entered, "", "0.00", "0.00", "已缴", "0", ""]
                    parked.append(row)
                    report.mark_quirk(written, "still_parked")
                else:
                    minutes = min(5 + int(expovariate(1 / 110)), end_minute - entry)
                    exit_minute = entry + minutes
                    left = stamps.text(exit_minute, below(60))
                    due = fee_text[min(minutes * PARKING_CENTS_PER_MINUTE, PARKING_MAX_DUE_CENTS)]
                    age = last_day - exit_minute // 1440
                    draw = random_()
                    if draw < 0.055:
                        row = [record, plate, owner_type, owner, berth, entered, left, due, "0.00",
                               "欠费", str(min(5, age // 7)), ""]
                        seen_arrears += 1
                        if len(arrears) < wanted:
                            arrears.append(row)
                        else:
                            slot = below(seen_arrears)
                            if slot < wanted:
                                arrears[slot] = row
                    elif draw < 0.095 and age >= 7:
                        reminders = 1 + below(min(5, age // 7))
                        paid_day = exit_minute // 1440 + 7 * reminders + below(min(7, age - 7 * reminders + 1))
                        paid = stamps.text(paid_day * 1440 + 480 + below(720), below(60))
                        row = [record, plate, owner_type, owner, berth, entered, left, due, due,
                               "催缴后补缴", str(reminders), paid]
                    else:
                        row = [record, plate, owner_type, owner, berth, entered, left, due, due,
                               "已缴", "0", left]
                yield row
                written += 1
                on_row(written)

    report.rows = _write_csv(folder / name, PARKING_HEADER, rows(), "utf-8", line_end="\n")

    # Next day's file: settled arrears and the cars that were still parked, now gone and paid.
    next_day = last_day + 1
    updates = []
    for row in sorted(arrears):
        settled = row[:]
        settled[8] = settled[7]
        settled[9] = "催缴后补缴"
        settled[10] = str(int(settled[10]) + 1)
        settled[11] = stamps.text(next_day * 1440 + 480 + rng.randrange(600), rng.randrange(60))
        updates.append(settled)
    for row in parked:
        entered = datetime.datetime.fromisoformat(row[5])
        entry = (entered.date() - stamps.first_day).days * 1440 + entered.hour * 60 + entered.minute
        exit_minute = max(entry + 5, next_day * 1440 + rng.randrange(600))
        due = _yuan(min((exit_minute - entry) * PARKING_CENTS_PER_MINUTE, PARKING_MAX_DUE_CENTS))
        left = stamps.text(exit_minute, rng.randrange(60))
        updates.append(row[:6] + [left, due, due, "已缴", "0", left])
    second_name = _file_name("parking", as_of + DAY, None, "csv")
    second = FileReport("parking", second_name, "data", "utf-8", "LF",
                        extra={"updates_of": name, "records_settled_after_reminders": len(arrears),
                               "records_no_longer_parked": len(parked)})
    second.rows = _write_csv(folder / second_name, PARKING_HEADER, updates, "utf-8", line_end="\n")

    # An upload still in progress: the temporary name and a last line cut in two.
    partial_name = _file_name("parking", as_of + 2 * DAY, None, "csv") + ".part"
    lines = [",".join(PARKING_HEADER)]
    for seq in range(20):
        entry = (next_day + 1) * 1440 + 420 + 11 * seq
        plate, owner = person_cars[rng.randrange(person_count)]
        left = stamps.text(entry + 30, 0)
        lines.append(",".join([f"BSP{stamps.compact[next_day + 1]}{seq:05d}", plate, "个人", owner,
                               berths[rng.randrange(berth_count)], stamps.text(entry, 0), left,
                               "1.50", "1.50", "已缴", "0", left]))
    content = ("\n".join(lines)).encode("utf-8")
    (folder / partial_name).write_bytes(content[: len(content) - 37])
    partial = FileReport("parking", partial_name, "partial", "utf-8", "LF",
                         extra={"note": "upload in progress: not data"})
    return [report, second, partial]


# ----------------------------------------------------------- rural_cooperative, households

def _write_rural_cooperative(folder: Path, world: World, rng: random.Random, as_of: Date,
                             progress: _Progress) -> FileReport:
    year = str(as_of.year - 1)  # a text cell, as the agriculture committee's sheet has it
    rated = [e for e in world.valid_entities
             if e.kind == "农民专业合作社" and e.status not in ("注销", "迁出") and e.established.year <= as_of.year - 1]
    rows = []
    for entity in rated:
        product, unit, _ = entity.product
        assets = round(rng.uniform(20, 2500), 1)
        rating = rng.choices("优良中差", (35, 35, 20, 10))[0]
        overdue = 0 if rating in "优良" else rng.choices((0, 1, 2, 3), (50, 25, 15, 10))[0]
        rows.append([entity.uscc, entity.name, entity.town, entity.village, product, rng.randint(5, 300),
                     f"{rng.randint(10, 900)}{unit}", assets, round(assets * rng.uniform(0, 0.7), 1),
                     overdue, rating, year])
    name = _file_name("rural_cooperative", as_of, None, "xlsx")
    report = FileReport("rural_cooperative", name, "data", "xlsx", "")
    for index in _pick(rng, range(len(rows)), _share(len(rows), PADDED_SHARE)):
        column = rng.choice((0, 1))
        rows[index][column] = _pad(rng, rows[index][column])
        report.mark_quirk(index, "padded_whitespace")
    report.rows = _write_xlsx(folder / name, COOPERATIVE_HEADER, rows, len(rows), as_of,
                              on_row=progress.counter("rural_cooperative", len(rows)))
    return report


def _household_values(rng: random.Random, good: bool) -> tuple[float, float, float, int, str]:
    """(income, assets, debt, overdue loans, 村委会评价): good households have 优/良 and no overdue."""
    assets = round(rng.uniform(5, 120), 1)
    if good:
        return (round(rng.uniform(5, 40), 1), assets, round(assets * rng.uniform(0, 0.4), 1), 0,
                rng.choice("优良"))
    rating, overdue = rng.choices((("中", 0), ("中", 1), ("差", rng.randint(0, 3)), ("良", rng.randint(1, 2))),
                                  (40, 15, 25, 20))[0]
    return round(rng.uniform(1, 20), 1), assets, round(assets * rng.uniform(0.2, 1.2), 1), overdue, rating


def _write_credit_household(folder: Path, world: World, rng: random.Random, as_of: Date,
                            progress: _Progress) -> FileReport:
    year = as_of.year - 1  # a number cell, as the towns' sheets have it
    products = [p[0] for p in FARM_PRODUCTS]
    name = _file_name("credit_household", as_of, None, "xlsx")
    report = FileReport("credit_household", name, "data", "xlsx", "")
    padded = set(_pick(rng, range(len(world.households)), _share(len(world.households), PADDED_SHARE)))
    for index in sorted(padded):
        report.mark_quirk(index, "padded_whitespace")

    def rows():
        for index, household in enumerate(world.households):
            income, assets, debt, overdue, rating = _household_values(rng, household.good)
            head_name, ric = household.head.name, household.head.ric
            if index in padded:
                if rng.random() < 0.5:
                    head_name = _pad(rng, head_name)
                else:
                    ric = _pad(rng, ric)
            members = rng.choices(range(1, 8), (8, 20, 25, 22, 14, 7, 4))[0]
            yield [head_name, ric, household.town, household.village, members, rng.choice(products),
                   income, assets, debt, overdue, rating, year]

    report.rows = _write_xlsx(folder / name, HOUSEHOLD_HEADER, rows(), len(world.households), as_of,
                              on_row=progress.counter("credit_household", len(world.households)))
    return report


def _rural_summary(world: World) -> dict[str, object]:
    villages: dict[tuple[str, str], list[int]] = {}
    for h in world.households:
        tally = villages.setdefault((h.town, h.village), [0, 0])
        tally[0] += 1
        tally[1] += h.good
    credit_villages = {key for key, (total, good) in villages.items() if good >= 0.7 * total}
    towns = sorted({town for town, _ in villages})
    credit_towns = [t for t in towns
                    if 2 * sum(1 for (town, _) in credit_villages if town == t)
                    >= sum(1 for (town, _) in villages if town == t)]
    return {
        "good_household_rule": "村委会评价 优 or 良 and 贷款逾期次数 = 0",
        "towns": len(towns), "villages": len(villages),
        "villages_with_70pct_good_households": len(credit_villages),
        "towns_with_half_such_villages": len(credit_towns),
    }


# ------------------------------------------------------------------------------- public

def generate(scale: str, seed: int, out: Path, as_of: datetime.date = datetime.date(2026, 11, 20),
             progress: Callable[[str, int, int], None] | None = None, broken_header: bool = False) -> dict:
    """Write feed files under out/<feed>/<feed>_<YYYYMMDD>[_<seq>].<csv|xlsx>; return a summary dict.

    scale is a key of SCALES. The summary is also written to out/generator_manifest.json:
    scale, seed, as_of, expected_entities (valid entity_register rows: the entities a
    warehouse should profile), entities_by_type (of those), a rural-credit summary, and
    per file: feed, file, kind (data / duplicate / partial / broken_header), encoding,
    line_end, rows, bad_rows, bad_reasons and quirks (counts), and at sample scale the row
    numbers too (bad_row_numbers, bad_rows_by_reason, quirk_row_numbers; header = row 1).
    progress(feed, done, total) is called every 50,000 rows of a file and at its end.
    broken_header also writes entity_register_<as_of>_2.csv, whose 统一社会信用代码 header
    is renamed 社会信用代码, so the platform quarantines it.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    cfg = SCALES[scale]
    out = Path(out)
    folders = {}
    for feed in ("entity_register", "tax_credit", "penalty", "parking", "rural_cooperative",
                 "credit_household", "credit_repair"):
        folders[feed] = out / feed
        folders[feed].mkdir(parents=True, exist_ok=True)
    reporter = _Progress(progress)

    # One generator for the shared world, one per feed: a feed's draws do not shift another's.
    world = _build_world(cfg, random.Random(seed), as_of)

    def feed_rng(feed: str) -> random.Random:
        return random.Random(f"{seed}/{feed}")

    reports = [_write_entity_register(folders["entity_register"], world, feed_rng("entity_register"), as_of, reporter)]
    if broken_header:
        reports.append(_write_broken_header_register(folders["entity_register"], feed_rng("broken_header"), as_of))
    reports += _write_tax_credit(folders["tax_credit"], world, feed_rng("tax_credit"), as_of, reporter)
    penalty_report, penalties = _write_penalty(folders["penalty"], world, cfg, feed_rng("penalty"), as_of, reporter)
    reports.append(penalty_report)
    reports.append(_write_credit_repair(folders["credit_repair"], penalties, cfg, feed_rng("credit_repair"),
                                        as_of, reporter))
    reports += _write_parking(folders["parking"], world, cfg, feed_rng("parking"), as_of, reporter)
    reports.append(_write_rural_cooperative(folders["rural_cooperative"], world, feed_rng("rural_cooperative"),
                                            as_of, reporter))
    reports.append(_write_credit_household(folders["credit_household"], world, feed_rng("credit_household"),
                                           as_of, reporter))

    by_type: dict[str, int] = {}
    for entity in world.valid_entities:
        by_type[entity.kind] = by_type.get(entity.kind, 0) + 1
    summary = {
        "scale": scale,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "row_numbering": "header = row 1; a record holding a quoted line break is one row",
        "expected_entities": sum(by_type.values()),
        "entities_by_type": dict(sorted(by_type.items())),
        "rural_credit": _rural_summary(world),
        "files": [r.manifest(with_row_numbers=scale == "sample") for r in reports],
    }
    (out / MANIFEST_NAME).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary
