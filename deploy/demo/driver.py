"""Live demo traffic: many parties using the hub over its HTTP API, as in a working day.

**This is a test double**, like `deploy.demo.party`: it plays the parties' systems
for the live demo (``make run``) and for tests. The hub never imports it; it talks to
the hub over HTTP only, each party with its own bearer token.

What it does, in a loop, gently (``--rate`` requests/s over everything, default 6):

- streets blow the whistle 吹哨 (WHISTLE orders to the competent department), report
  clues of matters they do not hold (the hub assigns them to the department), log their
  own patrol findings in their platform's native format (``street-clue``), ask
  departments for assistance 协助, transfer cases 移送 and publish decided cases (the hub
  discloses the penalties to the big-data bureau);
- departments post their systems' native clues (``urban-case``, ``water-issue``, ... the
  shapes of ``connectors/department/mappings``; the hub assigns delegated matters to
  the street) and assign streets directly 派单;
- recipients read their inbox (``GET /v1/inbox`` with its cursor) and act on the orders
  the demo created (its own posts, and the hub's assignments of its clues; orders anyone
  else posts are left alone, counted as ``others``) after small delays: SIGNED 签收,
  REPORTED 报到, FEEDBACK 反馈; issuers CLOSED 办结 and EVALUATED 评价; a few orders
  are returned 退单 (and reassigned 改派) and a few are left unsigned, so their
  deadlines pass (some orders carry a deadline minutes away);
- criminal referrals 涉嫌犯罪移送 go to the police (the hub copies the procuratorate); the
  police accept and decide FILED or NOT_FILED (half of the decisions in their native
  ``decision`` format); after NOT_FILED the issuer asks for reconsideration 复议, the
  procuratorate opens supervision 立案监督, or the issuer accepts and closes;
- the big-data bureau shares market entities and permits (and, with ``--entities`` and
  ``--entities-api``, adds new registrations to its sharing platform's simulator, which
  the hub's ``http-poll`` connector reads);
- about 3 % of what is sent is bad on purpose: records breaking a rule (422), native
  records with a code the mapping does not know (422 over HTTP; through the poll
  connector they land in the DLQ), an event that does not fit its order's state sent as
  a plain record (the dispatch engine parks it in the DLQ);
- justice reads the assessment and its escalations; ops reads ``/metrics``.

Every ~10 s a progress line goes to stderr; Ctrl-C or SIGTERM stops it cleanly (exit 0)
with a last summary line.

    python -m deploy.demo.driver --url http://127.0.0.1:8080 --tokens .hub/demo/tokens.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "hub" / "reference"
BEIJING = timezone(timedelta(hours=8))
PROGRESS_SECONDS = 10.0
REQUESTS_PER_SCENARIO = 8.0  # a scenario costs about this many requests, all told
BAD_SHARE = 0.03
MAX_FLOWS = 80

# ------------------------------------------------------------------ who is who


@dataclass(frozen=True)
class Street:
    id: str
    name: str  # 积玉桥街道
    code: str  # the patrol platform's street code (street-clue jddm)
    number: str  # the emergency system's street code (JDDM)
    roads: tuple[str, ...]
    centre: tuple[float, float]  # lat, lon
    water: str  # a river or lake of the street (water-issue hhmc)

    @property
    def short(self) -> str:
        return self.name.removesuffix("街道")


# id, name, the patrol platform's code (street-clue jddm), the emergency system's code
# (JDDM), roads, centre (lat,lon), a river or lake of the street (water-issue hhmc)
STREET_TABLE = """
street-jiyuqiao   积玉桥街道 JYQ 01 和平大道,临江大道,中山路,新河街     30.566,114.309 长江
street-yangyuan   杨园街道   YY  02 杨园南路,铁机路,和平大道,余家头路   30.590,114.336 沙湖
street-xujiapeng  徐家棚街道 XJP 03 徐东大街,秦园路,团结路,沙湖大道     30.592,114.348 沙湖
street-liangdao   粮道街道   LD  04 粮道街,昙华林路,胭脂路,候补街       30.553,114.306 沙湖
street-zhonghualu 中华路街道 ZHL 05 中华路,民主路,复兴路,得胜桥         30.549,114.296 长江
street-huanghelou 黄鹤楼街道 HHL 06 解放路,司门口,蛇山北路,户部巷       30.545,114.302 长江
street-ziyang     紫阳街道   ZY  07 紫阳路,彭刘杨路,大成路,起义街       30.537,114.303 紫阳湖
street-baishazhou 白沙洲街道 BSZ 08 白沙洲大道,张家湾路,八坦路,白沙六路 30.503,114.300 巡司河
street-shouyilu   首义路街道 SYL 09 首义路,武珞路,大东门,复兴路         30.539,114.316 晒湖
street-zhongnanlu 中南路街道 ZNL 10 中南路,中南二路,中北路,武珞路       30.541,114.334 四美塘
street-shuiguohu  水果湖街道 SGH 11 东湖路,水果湖横路,中北路,洪山路     30.552,114.356 东湖
street-luojiashan 珞珈山街道 LJS 12 珞珈山路,八一路,东湖南路,珞喻路     30.539,114.364 东湖
street-shidong    石洞街道   SD  13 石洞街,武泰闸,青菱路,建安街         30.512,114.316 青菱河
street-nanhu      南湖街道   NH  14 宝安路,丁字桥南路,雅安街,南湖大道   30.510,114.331 南湖
"""


def _streets(table: str) -> list[Street]:
    streets = []
    for line in table.strip().splitlines():
        sid, name, code, number, roads, centre, water = line.split()
        lat, lon = (float(x) for x in centre.split(","))
        streets.append(Street(sid, name, code, number, tuple(roads.split(",")), (lat, lon), water))
    return streets


STREETS = _streets(STREET_TABLE)


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    native_kind: str  # its system's clue format (connectors/department/mappings)
    prefix: str  # matter code prefix


DEPARTMENTS = [
    Department("dept-urban", "区城市管理执法局", "urban-case", "URB"),
    Department("dept-water", "区水务和湖泊局", "water-issue", "WAT"),
    Department("dept-emergency", "区应急管理局", "emergency-hazard", "EMG"),
    Department("dept-health", "区卫生健康局", "health-supervision", "HLT"),
    Department("dept-housing", "区房管局", "housing-complaint", "HSG"),
    Department("dept-construction", "区建设局", "construction-inspection", "CON"),
    Department("dept-civil", "区民政局", "civil-matter", "CIV"),
    Department("dept-planning", "区自然资源和规划分局", "planning-violation", "PLN"),
]
DEPARTMENT_OF = {d.id: d for d in DEPARTMENTS}
NAMES = {
    **{s.id: s.name for s in STREETS},
    **{d.id: d.name for d in DEPARTMENTS},
    "police": "区公安分局",
    "procuratorate": "区人民检察院",
    "bigdata": "区大数据局",
    "justice": "区司法局",
    "court": "区人民法院",
    "ops": "运维值守",
    "hub": "枢纽",
}

EVENT_ZH = {
    "SIGNED": "签收", "REPORTED": "报到", "FEEDBACK": "反馈", "RETURNED": "退单",
    "REASSIGNED": "改派", "CLOSED": "办结", "EVALUATED": "评价", "OVERDUE": "超时",
    "ESCALATED": "督办", "ACCEPTED": "受理", "FILED": "立案", "NOT_FILED": "不予立案",
    "RECONSIDERATION": "复议", "SUPERVISION": "立案监督",
}  # fmt: skip
ORDER_ZH = {
    "WHISTLE": "吹哨", "ASSIGNMENT": "派单", "ASSISTANCE": "协助", "CASE_TRANSFER": "移送",
    "CRIMINAL_REFERRAL": "涉嫌犯罪移送",
}  # fmt: skip


def load_native_codes(kind_folder: str, native_kind: str) -> dict[str, str]:
    """matter code -> the native code a party's system uses for it, read from the code
    table of its mapping spec (connectors/<kind>/mappings/<native kind>.yaml)."""
    path = ROOT / "connectors" / kind_folder / "mappings" / f"{native_kind}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    table = spec["codes"][spec["fields"]["matter_code"]["codes"]]
    codes: dict[str, str] = {}
    for native, matter in table.items():
        codes.setdefault(str(matter), str(native))
    return codes


# What is seen on the ground, per matter (plausible, fictional).
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "URB-001": (
        "商户在人行道长期堆放货物约10平方米，行人被迫绕行机动车道",
        "餐馆在店外人行道摆放桌椅经营夜宵",
    ),
    "URB-002": ("居民在小区公共绿地旁私自搭建彩钢棚约15平方米", "沿街门面违规向外搭建雨棚并封闭"),
    "URB-003": ("人行天桥护栏上悬挂大型商业广告横幅", "路灯杆上擅自设置广告灯箱"),
    "URB-004": ("渣土运输车未密闭，沿途遗撒约200米", "夜间渣土车抛洒泥土，路面严重污染"),
    "URB-005": ("流动摊贩在地铁站出口占道经营水果", "早餐摊点在人行道上占道经营，油烟扰民"),
    "URB-006": ("餐馆将餐厨垃圾交由无资质人员收运", "餐饮店后巷发现私自收集餐厨垃圾的油桶"),
    "URB-007": ("路边绿化带内堆放生活垃圾约2立方米，气味明显", "小区外墙角长期随意倾倒生活垃圾"),
    "WAT-001": (
        "湖岸倾倒建筑渣土约3立方米，部分已滑入水域",
        "河道管理范围内堆放生活垃圾和装修废料",
    ),
    "WAT-002": ("洗车店私接管道抽取湖水用于经营", "工地未经批准从河道抽水降尘"),
    "WAT-003": ("餐饮店未办理排水许可，将含油污水直排市政管网", "洗车场污水未经处理直接排入下水道"),
    "WAT-004": ("小区雨水口冒黑水，疑似雨污混接", "沿街门面将污水管接入雨水管网"),
    "WAT-005": ("湖边填土围湖约300平方米，疑似违法占用水域", "私自在湖汊筑堤养鱼"),
    "WAT-006": ("河道管理范围内新建临时工棚，妨碍行洪", "河滩上违规堆放砂石并搭建构筑物"),
    "WAT-007": ("汛前对辖区湖岸水事活动开展巡查", "巡查发现湖边施工未办理涉河手续"),
    "EMG-001": ("餐馆液化气瓶与明火距离不足1米", "仓库电线私拉乱接，存在火灾隐患"),
    "EMG-002": ("加油站未制定生产安全事故应急救援预案", "物流仓库从未组织应急演练"),
    "EMG-003": ("小型加工厂新员工未经安全培训即上岗操作", "维修门店未开展安全生产教育培训"),
    "EMG-004": ("五金店无证储存、销售油漆稀释剂等危险化学品", "居民楼底层门面存放大量酒精桶"),
    "EMG-005": (
        "九小场所消防安全检查：灭火器过期，应急灯损坏",
        "居民住宅区楼道堆放杂物，消防设施缺失",
    ),
    "EMG-006": ("商场消防通道被货物堵塞", "后厨安全出口被杂物堵塞，疏散通道宽度不足0.8米"),
    "HLT-001": ("新开业足浴店未取得卫生许可证擅自营业", "宾馆卫生许可证过期仍在营业"),
    "HLT-002": ("顾客反映拖鞋、毛巾重复使用未经消毒", "理发店剃须刀具未按规定消毒"),
    "HLT-004": ("网吧内多人吸烟，经营者未劝阻、未设禁烟标识", "餐厅包间放置烟灰缸，未履行控烟义务"),
    "HLT-005": ("候车区有人吸烟，劝阻无效", "商场室内多人吸烟"),
    "HLT-006": ("诊所超范围开展医疗美容注射", "门诊部擅自开展未登记的诊疗科目"),
    "HSG-001": ("物业将小区架空层出租作为经营场所", "电梯厅被改作商铺出租"),
    "HSG-002": ("物业擅自将物业管理用房改作仓库出租", "物业用房被改作棋牌室经营"),
    "HSG-004": ("楼上住户装修拆除承重墙，墙体出现裂缝", "装修中擅自开凿剪力墙门洞"),
    "HSG-005": ("住户将阳台改为卫生间，楼下渗水", "将客厅一角改建为厨房，未做防水"),
    "HSG-007": ("一套三居室被分割成10间出租", "地下储藏室被改造成出租房居住"),
    "CON-001": ("工地土方作业未洒水抑尘，裸土未覆盖", "施工围挡破损，扬尘明显"),
    "CON-002": ("工地凌晨1点仍在浇筑混凝土，噪声扰民", "夜间施工未办理夜间施工证明"),
    "CON-003": ("打桩噪声超过排放标准", "施工机械噪声持续超标"),
    "CON-004": ("施工单位在空地擅自倾倒建筑垃圾", "工地建筑垃圾沿路抛撒"),
    "CON-005": ("黑气点无证灌装、销售液化石油气", "个人无证经营瓶装燃气配送"),
    "CON-006": ("餐馆在地下室使用液化石油气", "燃气管道被违规包封在吊顶内"),
    "CON-007": ("对在建工地扬尘噪声污染防治开展检查", "建筑工地扬尘在线监测数值超标"),
    "CIV-001": ("养老机构未按标准配备护理人员", "养老院消防设施不符合强制性标准"),
    "CIV-003": ("对辖区养老机构开展服务安全检查", "养老机构食品留样记录缺失"),
    "CIV-004": ("山林地内新建水泥坟墓一座，约6平方米", "小区绿地内发现私埋骨灰"),
    "CIV-006": ("以“某某互助会”名义开展活动，未依法登记", "未登记社会组织以商会名义收取会费"),
    "CIV-007": ("路名牌缺失，地名标志损坏", "门牌号码设置混乱"),
    "PLN-001": ("未经批准占用集体土地建设仓储用房", "在空地上圈占土地建设临时厂房"),
    "PLN-002": ("屋顶新增彩钢板房一处，未见规划许可", "沿街门面擅自加层扩建"),
    "PLN-004": ("施工中擅自移动永久性测量标志", "测量标志被损毁"),
    "PLN-007": ("土地利用动态巡查", "对卫片下发图斑开展实地核查"),
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖"
    "田董袁潘蔡蒋余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江"
)
GIVEN = tuple(
    """
    伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 涛 明 超 秀英
    华 建国 桂英 志强 丹 萍 鹏 辉 玲 斌 宇 浩 凯 晨 欣怡
    俊杰 海燕 文博 雪梅
    """.split()
)
SHOP_NAMES = tuple(
    """
    鑫盛 楚味 汉味 长江 黄鹤 东湖 江城 昙华 首义 沙湖 珞珈 荆楚
    兴隆 福源 顺达 知音 晴川 汉阳门
    """.split()
)
SHOP_KINDS = (
    ("92", "餐饮店"),
    ("92", "便利店"),
    ("92", "五金建材经营部"),
    ("92", "美容美发店"),
    ("92", "足浴店"),
    ("92", "网吧"),
    ("91", "物业服务有限公司"),
    ("91", "建筑工程有限公司"),
    ("91", "商贸有限公司"),
    ("91", "养老服务有限公司"),
)
UNITS = ("某小吃店", "某五金店", "某KTV", "某小区物业", "某仓库", "某宾馆", "某网吧", "某超市")
ESTATES = ("和平家园", "东湖花园", "沙湖苑", "南湖山庄", "中南花园", "首义小区", "白沙新村")
PROJECTS = tuple(
    """
    某安置房项目 某商业综合体项目 某地铁站配套工程 某老旧小区改造工程
    某学校改扩建工程
    """.split()
)

SIGNED = ("已签收，安排执法人员处置", "已签收", "收到，马上安排人员核查")
REPORTED = ("执法人员已到达现场报到", "已派两名执法队员到场", "已会同街道到现场联合执法")
FEEDBACK = (
    "已现场责令整改，当事人已清理完毕",
    "已立案调查，下达责令改正通知书",
    "经核查情况属实，已依法处置并拍照留存",
    "已约谈负责人，限期三日内整改",
    "现场核查未发现问题，已留存巡查记录",
)
CLOSED = ("经复核已整改到位，同意办结", "处置结果满意，办结", "已现场回访，同意办结")
EVALUATIONS = (
    (5, "响应迅速，处置到位"),
    (5, "报到及时，配合良好"),
    (4, "处置及时"),
    (3, "处置基本到位，反馈略迟"),
)
RETURN_REASONS = (
    "该事项不属于本单位职责范围，请核实后改派",
    "地址不在本辖区，请改派属地单位",
    "该事项已赋权街道，请由属地街道依法处置",
)

# (issuer: a department id or "street", matter, offence, what happened, evidence, seized)
REFERRALS = (
    (
        "dept-emergency",
        "EMG-004",
        "非法经营罪",
        "某五金店无证储存、销售危险化学品，现场查获油漆稀释剂约2吨",
        ("现场检查笔录", "询问笔录", "购销台账"),
        ("油漆稀释剂42桶",),
    ),
    (
        "dept-construction",
        "CON-005",
        "非法经营罪",
        "黑气点无证灌装、销售液化石油气，涉案金额约12万元",
        ("现场勘验笔录", "销售记录", "证人证言"),
        ("液化气钢瓶86个", "灌装设备1套"),
    ),
    (
        "dept-planning",
        "PLN-001",
        "非法占用农用地罪",
        "未经批准占用农用地建设仓储用房约6亩",
        ("测绘报告", "土地权属材料", "询问笔录"),
        (),
    ),
    (
        "dept-health",
        "HLT-006",
        "非法行医罪",
        "未取得医师资格人员在诊所开展医疗美容注射",
        ("现场检查笔录", "患者陈述", "药品购进记录"),
        ("注射用药品32支",),
    ),
    (
        "dept-urban",
        "URB-006",
        "生产、销售有毒、有害食品罪",
        "餐馆收购废弃油脂加工后用于餐饮经营",
        ("现场检查笔录", "抽样检验报告", "询问笔录"),
        ("废弃油脂约500公斤",),
    ),
    (
        "dept-civil",
        "CIV-006",
        "诈骗罪",
        "以未登记的“颐年互助会”名义向老年人集资约80万元",
        ("会员登记表", "收款凭证", "询问笔录"),
        (),
    ),
    (
        "street",
        "WAT-001",
        "污染环境罪",
        "在湖泊管理范围内倾倒建筑渣土及废弃物约300立方米",
        ("现场勘验笔录", "无人机航拍照片", "询问笔录"),
        ("渣土运输车2辆",),
    ),
    (
        "street",
        "URB-007",
        "污染环境罪",
        "多次在绿化带倾倒含油污泥约20吨",
        ("现场勘验笔录", "监控录像", "检测报告"),
        ("罐车1辆",),
    ),
)
# (matter not delegated to streets, why the street transfers it)
TRANSFERS = (
    ("EMG-004", "巡查发现无证销售危险化学品，该事项未赋权街道，依法移送区应急管理局"),
    ("HLT-001", "足浴店未取得卫生许可证擅自营业，该事项未赋权街道，移送区卫生健康局"),
    ("WAT-005", "发现填湖造地行为，属区水务和湖泊局职权，依法移送"),
    ("PLN-001", "发现未经批准占用土地建设厂房，属区自然资源和规划分局职权，依法移送"),
)
# (matter, department, kind, question)
ASSISTANCE = (
    ("HSG-004", "dept-housing", "IDENTIFICATION", "请对该住户拆改承重墙是否危及房屋安全进行认定"),
    ("PLN-002", "dept-planning", "APPROVAL_RECORDS", "请提供该建筑物建设工程规划许可审批信息"),
    ("CON-002", "dept-construction", "APPROVAL_RECORDS", "请提供该工地夜间施工证明办理情况"),
    ("EMG-001", "dept-emergency", "APPRAISAL", "请对该液化气瓶存放场所的安全条件进行鉴定"),
)

# ------------------------------------------------------------- check characters

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check(first17: str) -> str:
    """GB 32100 check character."""
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_CHARSET[(31 - total % 31) % 31]


def citizen_id_check(first17: str) -> str:
    """GB 11643 check character."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


# ------------------------------------------------------------------- reference


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    department: str
    delegated: bool
    legal_basis: str
    max_fine: int


def load_matters(path: Path) -> dict[str, Matter]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        m["code"]: Matter(
            m["code"],
            m["name"],
            m["department"],
            bool(m["delegated_to_street"]),
            m["legal_basis"],
            int(m["max_fine_yuan"]),
        )
        for m in document["matters"]
    }


def load_officers(path: Path, today: date) -> dict[str, list[tuple[str, str]]]:
    """party -> [(certificate_no, name)] of the certificates usable today."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    usable: dict[str, list[tuple[str, str]]] = {}
    for officer in document["officers"]:
        if officer["status"] != "active" or date.fromisoformat(str(officer["valid_until"])) < today:
            continue
        usable.setdefault(officer["party"], []).append(
            (str(officer["certificate_no"]), officer["name"])
        )
    return usable


# ----------------------------------------------------------------------- stats


class Stats:
    """What the driver did; `line` is the progress summary."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def line(self, flows: int, prefix: str = "demo") -> str:
        c = self.counts
        elapsed = int(time.monotonic() - self.started)
        return (
            f"{prefix} {elapsed // 60}:{elapsed % 60:02d}  published {c['published']}  "
            f"events {c['events']}  inbox {c['inbox']}  "
            f"rejected {c['rejected']} ({c['bad']} on purpose)  DLQ-bound {c['dlq']}  "
            f"errors {c['errors']}  "
            f"orders left unsigned {c['unsigned']}  open flows {flows}"
            + (f"  others' items left alone (他人派单未处理) {c['others']}" if c["others"] else "")
        )


class RateLimiter:
    """A token bucket shared by every request the driver makes to the hub."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class OrderMemo:
    """What the parties (one process) know of an order."""

    order_id: str
    order_type: str
    issuer: str
    recipients: list[str]
    matter: str
    short_deadline: bool = False
    plan: str = ""  # referral after NOT_FILED: reconsider | supervise | accept
    decisions: int = 0
    done: set[str] = field(default_factory=set)  # reactions already under way


Answer = tuple[int, Any]

# ------------------------------------------------------------------- the driver


class Demo:
    def __init__(self, args: argparse.Namespace, tokens: dict[str, str]) -> None:
        self.url = args.url.rstrip("/")
        self.tokens = tokens
        self.rate = args.rate
        self.verbose = args.verbose
        self.rng = random.Random(args.seed)  # noqa: S311 - demo data, not secrets
        self.stats = Stats()
        self.limiter = RateLimiter(args.rate)
        self.stop = asyncio.Event()
        self.flows: set[asyncio.Task[None]] = set()
        self.orders: dict[str, OrderMemo] = {}
        self.created: set[str] = set()  # record ids of what this demo run published
        self.seen: set[tuple[str, str]] = set()
        self.cursors: dict[str, str] = {}
        self.due: dict[str, float] = {}
        self.expect: dict[str, float] = {}
        today = datetime.now(BEIJING).date()
        self.matters = load_matters(args.matters)
        self.officers = load_officers(args.officers, today)
        self.native_codes = {
            d.native_kind: load_native_codes("department", d.native_kind) for d in DEPARTMENTS
        }
        self.street_problem_types = load_native_codes("street", "street-clue")
        self.run = datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
        self.started = datetime.now(UTC)
        self.sequence = 0
        self.streets = [s for s in STREETS if s.id in tokens]
        self.departments = [d for d in DEPARTMENTS if d.id in tokens]
        self.readers = [p for p in tokens if p != "ops" and p in NAMES]
        self.entities_file: Path | None = args.entities
        self.entities_api: str | None = args.entities_api.rstrip("/") if args.entities_api else None
        self.entity_records: list[Any] = []
        self.known_usccs: list[str] = []
        self.wait_seconds = args.wait
        self.early_dlq = True  # the first order received gets a misplaced event (DLQ)
        self.session: aiohttp.ClientSession | None = None

    # -------------------------------------------------------------- plumbing

    def now(self) -> datetime:
        return datetime.now(BEIJING)

    def sid(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}-{self.run}-{self.sequence:05d}"

    def say(self, text: str) -> None:
        if self.verbose:
            print(f"demo: {text}", file=sys.stderr, flush=True)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self.flows.add(task)
        task.add_done_callback(self._flow_done)

    def _flow_done(self, task: asyncio.Task[None]) -> None:
        self.flows.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.add("errors")
            print(f"demo: a flow failed: {task.exception()!r}", file=sys.stderr, flush=True)

    async def pause(self, low: float, high: float) -> None:
        """A human delay; returns early (raising CancelledError in flows) when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=self.rng.uniform(low, high))
        if self.stop.is_set():
            raise asyncio.CancelledError

    async def request(
        self,
        party: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        """One call as party; (status, JSON answer or text). Network trouble is status 0."""
        assert self.session is not None
        await self.limiter.acquire()
        headers = {"Authorization": f"Bearer {self.tokens[party]}"}
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            async with self.session.request(
                method, self.url + path, data=data, headers=headers
            ) as answer:
                text = await answer.text()
                try:
                    parsed: Any = json.loads(text) if text else None
                except json.JSONDecodeError:
                    parsed = text
                if answer.status >= 500 or answer.status == 429:
                    self.stats.add("errors")
                return answer.status, parsed
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.add("errors")
            return 0, str(exc)

    async def publish(
        self, party: str, kind: str, record: dict[str, Any], what: str, counter: str = "published"
    ) -> str | None:
        """POST /v1/records/kind; the record id when accepted."""
        status, answer = await self.request(party, "POST", f"/v1/records/{kind}", record)
        if status == 202:
            self.stats.add(counter)
            self.say(f"{NAMES[party]} {what}")
            self.created.add(str(answer["record_id"]))
            return str(answer["record_id"])
        self._refused(party, kind, status, answer)
        return None

    async def publish_native(
        self,
        party: str,
        native_kind: str,
        record: dict[str, Any],
        what: str,
        encoding: str = "",
        counter: str = "published",
    ) -> str | None:
        """POST /v1/native/native_kind in the party's own format; the canonical record id."""
        raw = json.dumps(record, ensure_ascii=False).encode(encoding or "utf-8")
        content_type = f"application/json; charset={encoding}" if encoding else "application/json"
        status, answer = await self.request(
            party, "POST", f"/v1/native/{native_kind}", raw=raw, content_type=content_type
        )
        if status == 202:
            self.stats.add(counter)
            self.say(f"{NAMES[party]} ({native_kind}) {what}")
            self.created.add(str(answer["record_id"]))
            return str(answer["record_id"])
        self._refused(party, native_kind, status, answer)
        return None

    def _refused(self, party: str, what: str, status: int, answer: Any) -> None:
        if 400 <= status < 500 and status != 429:
            self.stats.add("rejected")
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        print(
            f"demo: {party} {what}: HTTP {status}: {str(detail)[:200]}", file=sys.stderr, flush=True
        )

    async def act(
        self, party: str, memo: OrderMemo, event_type: str, step: str = "", **fields: Any
    ) -> bool:
        """POST /v1/orders/{id}/events as party; retried while the hub has not applied the
        step before (409 on the previous state, 404 before the order is in its table)."""
        body = {
            "event_type": event_type,
            "source_id": f"demo-{memo.order_id}-{party}-{event_type}{step}",
            **fields,
        }
        path = f"/v1/orders/{memo.order_id}/events"
        for attempt in range(6):
            status, answer = await self.request(party, "POST", path, body)
            if status == 202:
                self.stats.add("events")
                self.say(
                    f"{NAMES[party]} {EVENT_ZH.get(event_type, event_type)}"
                    f"（{ORDER_ZH.get(memo.order_type, memo.order_type)} {memo.order_id[:8]}）"
                )
                for other in {memo.issuer, *memo.recipients} - {party}:
                    self.hint(other)
                if memo.order_type == "CRIMINAL_REFERRAL":
                    self.hint("procuratorate")
                return True
            if status in (0, 404, 409, 503) and attempt < 5:
                self.stats.add("retried")
                await self.pause(1.0 + attempt, 2.0 + attempt)
                continue
            self._refused(party, f"{event_type} on {memo.order_id}", status, answer)
            return False
        return False

    # -------------------------------------------------------------- content

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def phone(self) -> str:
        return self.rng.choice(("139", "138", "137", "135", "159", "186", "189")) + "".join(
            self.rng.choice("0123456789") for _ in range(8)
        )

    def place(self, street: Street) -> tuple[str, float, float]:
        road = self.rng.choice(street.roads)
        number = self.rng.randint(1, 480)
        suffix = self.rng.choice(("", "门前", "东侧人行道", "附近", "对面", "旁小巷", "一楼门面"))
        lat = round(street.centre[0] + self.rng.uniform(-0.004, 0.004), 4)
        lon = round(street.centre[1] + self.rng.uniform(-0.004, 0.004), 4)
        return f"{road}{number}号{suffix}", lat, lon

    def describe(self, matter: str) -> str:
        choices = DESCRIPTIONS.get(matter)
        if choices:
            return self.rng.choice(choices)
        return f"巡查发现：{self.matters[matter].name}"

    def uscc(self, kind: str = "92") -> str:
        body = kind + "420106" + "MA4" + "".join(self.rng.choice(USCC_CHARSET) for _ in range(6))
        return body + uscc_check(body)

    def citizen_id(self) -> str:
        born = date(1960, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 40))
        body = f"420106{born:%Y%m%d}{self.rng.randint(0, 999):03d}"
        return body + citizen_id_check(body)

    def entity_name(self, street: Street) -> tuple[str, str]:
        kind, suffix = self.rng.choice(SHOP_KINDS)
        prefix = "武汉市武昌区" if kind == "92" else "武汉"
        return kind, f"{prefix}{street.short}{self.rng.choice(SHOP_NAMES)}{suffix}"

    def delegated(self, prefix: str = "") -> list[str]:
        return [
            m.code
            for m in self.matters.values()
            if m.delegated and m.code.startswith(prefix) and m.code in DESCRIPTIONS
        ]

    def kept(self, prefix: str = "") -> list[str]:
        """Matters the departments keep (not delegated to streets)."""
        return [
            m.code
            for m in self.matters.values()
            if not m.delegated and m.code.startswith(prefix) and m.code in DESCRIPTIONS
        ]

    def stamp(self, minutes_ago: float = 0.0) -> str:
        return (self.now() - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")

    def department_of(self, matter: str) -> str:
        return self.matters[matter].department

    # ------------------------------------------------------------ scenarios

    async def street_clue_to_department(self, street: Street | None = None) -> None:
        """A street reports a matter it does not hold: the hub assigns the department."""
        street = street or self.rng.choice(self.streets)
        matter = self.rng.choice(self.kept())
        address, lat, lon = self.place(street)
        origin = self.rng.choice(("PATROL", "HOTLINE_12345", "GRID", "PUBLIC_REPORT"))
        record: dict[str, Any] = {
            "source_party": street.id,
            "source_id": self.sid(f"{street.code}-XS"),
            "occurred_at": self.stamp(self.rng.uniform(5, 90)),
            "origin": origin,
            "street": street.id,
            "location": {"address": f"武昌区{address}", "latitude": lat, "longitude": lon},
            "matter_code": matter,
            "description": self.describe(matter),
        }
        if origin in ("HOTLINE_12345", "PUBLIC_REPORT"):
            record["reporter"] = {"name_masked": self.name(), "phone_masked": self.phone()}
        department = self.department_of(matter)
        if await self.publish(
            street.id, "clue", record, f"报告线索 {matter} → {NAMES[department]}（枢纽派单）"
        ):
            self.hint(department, 2.0)

    async def whistle(self, street: Street | None = None) -> None:
        """吹哨报到: a street calls the competent department to report on site."""
        street = street or self.rng.choice(self.streets)
        matter = self.rng.choice(self.delegated() + self.kept())
        department = self.department_of(matter)
        address, lat, lon = self.place(street)
        now = self.now()
        short = self.rng.random() < 0.2
        routed = self.rng.random() < 0.3  # no recipients: the hub asks the catalogue
        record: dict[str, Any] = {
            "source_party": street.id,
            "source_id": self.sid(f"{street.code}-CS"),
            "occurred_at": now.isoformat(timespec="seconds"),
            "order_type": "WHISTLE",
            "from_party": street.id,
            "to_parties": [] if routed else [department],
            "matter_code": matter,
            "location": {"address": f"武昌区{address}", "latitude": lat, "longitude": lon},
            "priority": "URGENT" if short else self.rng.choice(("NORMAL", "NORMAL", "URGENT")),
            "issued_at": now.isoformat(timespec="seconds"),
            "description": f"{street.name}吹哨：{self.describe(matter)}，"
            f"请{NAMES[department]}到场报到联合处置",
        }
        if short:
            minutes = self.rng.uniform(3, 6)
            record["deadline"] = (now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
            record["description"] = (
                f"{street.name}紧急吹哨（限{minutes:.0f}分钟内反馈）：{self.describe(matter)}"
            )
        await self.publish_order(
            street.id, record, [department], f"吹哨 {matter} → {NAMES[department]}", short
        )

    async def publish_order(
        self,
        issuer: str,
        record: dict[str, Any],
        recipients: list[str],
        what: str,
        short: bool = False,
    ) -> None:
        order_id = await self.publish(issuer, "order", record, what)
        if order_id is None:
            return
        memo = self.orders.setdefault(
            order_id,
            OrderMemo(order_id, record["order_type"], issuer, recipients, record["matter_code"]),
        )
        memo.short_deadline = short
        for party in recipients:
            self.hint(party, 1.5)

    async def department_native_clue(self, street: Street | None = None) -> None:
        """A department system posts its own clue format; delegated matters go to the street."""
        department = self.rng.choice(self.departments)
        street = street or self.rng.choice(self.streets)
        codes = self.native_codes[department.native_kind]
        delegated = [m for m in codes if self.matters[m].delegated]
        matter = self.rng.choice(delegated if self.rng.random() < 0.8 else list(codes))
        native, encoding = self.native_clue(department, street, matter, codes[matter])
        target = street.id if self.matters[matter].delegated else department.id
        if await self.publish_native(
            department.id,
            department.native_kind,
            native,
            f"线索 {matter} @{street.name} → {NAMES[target]}",
            encoding,
        ):
            self.hint(target, 2.5)

    def native_clue(
        self, department: Department, street: Street, matter: str, code: str
    ) -> tuple[dict[str, Any], str]:
        """A clue in the department system's own format (its mapping spec's native shape)."""
        now = self.now() - timedelta(minutes=self.rng.uniform(2, 60))
        address, lat, lon = self.place(street)
        text = self.describe(matter)
        seq = self.sequence + 1
        kind = department.native_kind
        if kind == "urban-case":
            return {
                "案件编号": self.sid("CG"),
                "上报时间": now.strftime("%Y-%m-%d %H:%M:%S"),
                "案件来源": self.rng.choice(("监督员上报", "市民热线", "公众举报", "执法巡查")),
                "大类": code[:2],
                "小类": code[2:],
                "所属街道": street.name,
                "地址": address,
                "经度": str(lon),
                "纬度": str(lat),
                "问题描述": text,
                "举报人": "",
                "联系电话": "",
            }, ""
        if kind == "water-issue":
            return {
                "wtbh": self.sid("SW"),
                "fxsj": now.strftime("%Y%m%d%H%M%S"),
                "wtly": self.rng.choice(("01", "02", "03", "04")),
                "ssjd": street.short,
                "hhmc": street.water,
                "wtdd": f"{street.water}{address}",
                "jd": str(lon),
                "wd": str(lat),
                "wtlx": code,
                "wtms": text,
                "sbr": self.name(),
                "lxdh": self.phone(),
            }, ""
        if kind == "emergency-hazard":
            return {
                "YHBH": self.sid("YH420106"),
                "FXSJ": now.strftime("%Y/%m/%d %H:%M"),
                "YHLY": self.rng.choice("12345"),
                "JDDM": street.number,
                "DWMC": f"{street.short}{self.rng.choice(UNITS)}",
                "YHDZ": f"{street.name}{address}",
                "JD": str(lon),
                "WD": str(lat),
                "YHLB": code,
                "YHMS": text,
                "YHDJ": "一般隐患",
                "JBR": "",
                "JBRDH": "",
            }, ""
        if kind == "health-supervision":
            return {
                "登记号": self.sid("WJ"),
                "登记时间": now.strftime("%Y年%m月%d日 %H时%M分"),
                "线索来源": self.rng.choice(("监督检查", "投诉举报", "12345转办", "网格上报")),
                "所在街道": street.name,
                "单位名称": f"{street.short}{self.rng.choice(UNITS)}",
                "地址": f"{street.name}{address}",
                "案由": code,
                "情况描述": text,
                "投诉人": self.name(),
                "投诉人电话": self.phone(),
                "承办科室": "公共场所卫生监督科",
            }, "gbk"
        if kind == "housing-complaint":
            return {
                "complaintNo": self.sid("FG-TS"),
                "complaintTime": now.strftime("%Y-%m-%d %H:%M"),
                "channel": self.rng.choice(("12345", "WX", "DH", "WG", "XC")),
                "streetName": street.name,
                "community": f"{self.rng.choice(street.roads)}社区",
                "estate": self.rng.choice(ESTATES),
                "roomAddress": f"{self.rng.randint(1, 12)}栋{self.rng.randint(1, 4)}单元"
                f"{self.rng.randint(2, 28)}0{self.rng.randint(1, 4)}室",
                "category": code,
                "content": text,
                "complainant": self.name(),
                "mobile": self.phone(),
                "status": "NEW",
            }, ""
        if kind == "construction-inspection":
            return {
                "inspectionId": self.sid("ZHGD-XC"),
                "inspectTime": now.isoformat(timespec="seconds"),
                "source": self.rng.choice(
                    ("SITE_PATROL", "HOTLINE", "COMPLAINT", "GRID", "MONITOR")
                ),
                "inspector": "建设工程安全监督站",
                "project": {
                    "code": f"WC-2025-{seq % 10000:04d}",
                    "name": f"武昌区{street.short}{self.rng.choice(PROJECTS)}",
                    "street": street.name,
                    "address": f"{street.name}{address}",
                    "lng": lon,
                    "lat": lat,
                },
                "issue": {"category": code, "content": text},
                "photos": [
                    {"url": f"https://zhgd.example/photo/{seq}.jpg", "fileName": "现场1.jpg"}
                ],
            }, ""
        if kind == "civil-matter":
            return {
                "线索编号": self.sid("MZ"),
                "发现日期": now.strftime("%Y-%m-%d"),
                "来源": self.rng.choice(("巡查发现", "群众举报", "12345", "网格上报")),
                "街道": street.name,
                "地点": f"{street.name}{address}",
                "类别": code,
                "基本情况": text,
                "举报人": "",
                "联系方式": "",
                "登记人": "执法监督科",
            }, ""
        assert kind == "planning-violation", kind
        return {
            "tbbh": f"420106{self.sid('TB').replace('-', '')}",
            "jcrq": now.strftime("%Y%m%d"),
            "tbly": self.rng.choice(("WP", "DTXC", "JB", "WG")),
            "jdmc": street.name,
            "tbwz": f"{street.name}{address}",
            "zxjd": str(lon),
            "zxwd": str(lat),
            "tblx": code,
            "tbmj": f"{self.rng.uniform(20, 400):.1f}",
            "wfqk": text,
            "jcpc": "2026年第四季度",
        }, ""

    async def street_native_clue(self) -> None:
        """A street's patrol app logs a finding it handles itself (no order)."""
        street = self.rng.choice(self.streets)
        matter, problem = self.rng.choice(sorted(self.street_problem_types.items()))
        address, lat, lon = self.place(street)
        officers = self.officers.get(street.id, [])
        source_id = self.sid(f"{street.code}-XC")
        native = {
            "xcbh": source_id,
            "jddm": street.code,
            "xcsj": self.now().strftime("%Y.%m.%d %H:%M"),
            "xcry": "、".join(name for _, name in officers[:2]) or "巡查队员",
            "wtdz": f"{street.name}{address}",
            "zbx": str(lon),
            "zby": str(lat),
            "wtlx": problem,
            "wtms": self.describe(matter),
            "fj": [
                {
                    "mc": "现场1.jpg",
                    "lj": f"https://xc.example/{street.code.lower()}/{self.sequence}/1.jpg",
                    "lx": "jpg",
                }
            ],
        }
        await self.publish_native(street.id, "street-clue", native, f"巡查发现 {matter}（自办）")

    async def department_assignment(self) -> None:
        """派单: a department assigns a street a delegated matter."""
        department = self.rng.choice(self.departments)
        matters = self.delegated(department.prefix) or self.delegated()
        matter = self.rng.choice(matters)
        street = self.rng.choice(self.streets)
        address, lat, lon = self.place(street)
        now = self.now()
        record = {
            "source_party": department.id,
            "source_id": self.sid(f"{department.prefix}-PD"),
            "occurred_at": now.isoformat(timespec="seconds"),
            "order_type": "ASSIGNMENT",
            "from_party": department.id,
            "to_parties": [street.id],
            "matter_code": matter,
            "location": {"address": f"武昌区{address}", "latitude": lat, "longitude": lon},
            "issued_at": now.isoformat(timespec="seconds"),
            "description": f"{department.name}派单：群众反映{self.describe(matter)}，"
            "该事项已赋权街道，请属地处置",
        }
        await self.publish_order(
            department.id, record, [street.id], f"派单 {matter} → {street.name}"
        )

    async def assistance(self) -> None:
        street = self.rng.choice(self.streets)
        matter, department, kind, question = self.rng.choice(ASSISTANCE)
        if department not in self.tokens:
            return
        now = self.now()
        record = {
            "source_party": street.id,
            "source_id": self.sid(f"{street.code}-XZ"),
            "occurred_at": now.isoformat(timespec="seconds"),
            "order_type": "ASSISTANCE",
            "from_party": street.id,
            "to_parties": [department],
            "matter_code": matter,
            "issued_at": now.isoformat(timespec="seconds"),
            "description": f"{street.name}办案协助请求：{question}",
            "assistance": {"kind": kind, "question": question},
        }
        await self.publish_order(
            street.id, record, [department], f"协助请求 {matter} → {NAMES[department]}"
        )

    async def case_transfer(self) -> None:
        street = self.rng.choice(self.streets)
        matter, reason = self.rng.choice(TRANSFERS)
        department = self.department_of(matter)
        now = self.now()
        record = {
            "source_party": street.id,
            "source_id": self.sid(f"{street.code}-YS"),
            "occurred_at": now.isoformat(timespec="seconds"),
            "order_type": "CASE_TRANSFER",
            "from_party": street.id,
            "to_parties": [department],
            "matter_code": matter,
            "issued_at": now.isoformat(timespec="seconds"),
            "description": f"{street.name}案件移送：{self.describe(matter)}",
            "transfer": {
                "stop_order_issued": True,
                "reason": reason,
                "materials": ["现场检查笔录", "现场照片", "责令停止违法行为通知书"],
            },
        }
        await self.publish_order(
            street.id, record, [department], f"案件移送 {matter} → {NAMES[department]}"
        )

    async def criminal_referral(self) -> None:
        """涉嫌犯罪移送: to the police, copied to the procuratorate by the hub."""
        if "police" not in self.tokens:
            return
        issuer_kind, matter, offence, what, evidence, seized = self.rng.choice(REFERRALS)
        if issuer_kind == "street":
            street = self.rng.choice(self.streets)
            issuer, code = street.id, street.code
        elif issuer_kind in self.tokens:
            street = self.rng.choice(self.streets)
            issuer, code = issuer_kind, DEPARTMENT_OF[issuer_kind].prefix
        else:
            return
        address, lat, lon = self.place(street)
        now = self.now()
        record = {
            "source_party": issuer,
            "source_id": self.sid(f"{code}-XY"),
            "occurred_at": now.isoformat(timespec="seconds"),
            "order_type": "CRIMINAL_REFERRAL",
            "from_party": issuer,
            "to_parties": ["police"],
            "matter_code": matter,
            "location": {"address": f"武昌区{address}", "latitude": lat, "longitude": lon},
            "issued_at": now.isoformat(timespec="seconds"),
            "description": f"{NAMES[issuer]}移送涉嫌犯罪案件：{what}，涉嫌{offence}",
            "referral": {
                "suspected_offence": offence,
                "evidence": list(evidence),
                "seized_items": list(seized),
            },
        }
        await self.publish_order(
            issuer, record, ["police"], f"涉嫌犯罪移送（{offence}）→ 区公安分局"
        )

    async def decided_case(self) -> None:
        """A street publishes a decided case; the hub discloses the penalty to bigdata."""
        street = self.rng.choice(self.streets)
        officers = self.officers.get(street.id, [])
        if len(officers) < 2:
            return
        fined = [c for c in self.delegated() if self.matters[c].max_fine > 0]
        matter = self.matters[self.rng.choice(fined)]
        first, second = self.rng.sample(officers, 2)
        number = self.rng.randint(10, 999)
        person = self.rng.random() < 0.6
        if person:
            party: dict[str, Any] = {
                "party_type": "NATURAL_PERSON",
                "name": self.name(),
                "id_number": self.citizen_id(),
                "phone": self.phone(),
            }
        else:
            kind, name = self.entity_name(street)
            party = {"party_type": "ORGANISATION", "name": name, "uscc": self.uscc(kind)}
        warning = self.rng.random() < 0.2
        amounts = [a for a in (200, 500, 1000, 2000, 5000) if a <= matter.max_fine] or [100]
        decision: dict[str, Any] = {
            "decision_no": f"武{street.short[0]}执罚决字〔2026〕{number}号",
            "penalty_type": "WARNING" if warning else "FINE",
            "decided_at": self.stamp(self.rng.uniform(10, 600)),
        }
        if not warning:
            decision["amount"] = f"{self.rng.choice(amounts)}.00"
        record = {
            "source_party": street.id,
            "source_id": self.sid(f"{street.code}-AJ"),
            "occurred_at": self.stamp(),
            "case_no": f"武{street.short[0]}执罚〔2026〕{number}号",
            "owner_party": street.id,
            "matter_code": matter.code,
            "legal_basis": matter.legal_basis,
            "party": party,
            "officers": [
                {"certificate_no": first[0], "name": first[1]},
                {"certificate_no": second[0], "name": second[1]},
            ],
            "status": "DECIDED",
            "decision": decision,
        }
        if await self.publish(
            street.id, "case", record, f"案件决定 {matter.code}（{decision['penalty_type']}）→ 公示"
        ):
            self.hint("bigdata", 3.0)

    def native_entity(self, status: str | None = None) -> dict[str, Any]:
        street = self.rng.choice(STREETS)
        kind, name = self.entity_name(street)
        address, _, _ = self.place(street)
        registered = date(2012, 1, 1) + timedelta(days=self.rng.randint(0, 5000))
        return {
            "TYSHXYDM": self.uscc(kind),
            "QYMC": name,
            "FDDBR": self.name(),
            "ZS": f"武昌区{address}",
            "CLRQ": registered.isoformat(),
            "DJZT": status or self.rng.choice(("存续（在营、开业、在册）", "存续", "在营", "开业")),
            "DJJG": "武汉市武昌区市场监督管理局",
            "QYLX": "个体工商户" if kind == "92" else "有限责任公司",
            "GXSJ": self.now().strftime("%Y-%m-%d %H:%M:%S"),
        }

    def canonical_entity(self) -> dict[str, Any]:
        native = self.native_entity()
        status = self.rng.choice(("ACTIVE",) * 8 + ("REVOKED", "DEREGISTERED"))
        self.known_usccs.append(native["TYSHXYDM"])
        return {
            "source_party": "bigdata",
            "source_id": f"entity/{native['TYSHXYDM']}",
            "occurred_at": self.stamp(),
            "uscc": native["TYSHXYDM"],
            "name": native["QYMC"],
            "legal_representative": native["FDDBR"],
            "address": native["ZS"],
            "registered_on": native["CLRQ"],
            "status": status,
        }

    async def entities(self) -> None:
        """The big-data bureau shares market entities (one, or a batch) and now and then a
        permit."""
        if "bigdata" not in self.tokens:
            return
        if self.rng.random() < 0.4:
            records = [self.canonical_entity() for _ in range(self.rng.randint(3, 8))]
            status, answer = await self.request(
                "bigdata", "POST", "/v1/records/entity/batch", {"records": records}
            )
            if status in (202, 207):
                self.stats.add("published", int(answer.get("accepted", 0)))
                self.say(f"区大数据局 共享市场主体 {len(records)} 条（批量）")
            else:
                self._refused("bigdata", "entity batch", status, answer)
        elif self.rng.random() < 0.7 or not self.known_usccs:
            await self.publish("bigdata", "entity", self.canonical_entity(), "共享市场主体 1 条")
        else:
            valid_from = self.now().date() - timedelta(days=self.rng.randint(0, 900))
            number = self.rng.randint(1000000, 9999999)
            permit = {
                "source_party": "bigdata",
                "source_id": f"permit/JY1420106{number}",
                "occurred_at": self.stamp(),
                "permit_no": f"JY1420106{number}",
                "holder_uscc": self.rng.choice(self.known_usccs),
                "permit_type": "食品经营许可证",
                "issued_by": "武汉市武昌区市场监督管理局",
                "valid_from": valid_from.isoformat(),
                "valid_until": (valid_from + timedelta(days=5 * 365)).isoformat(),
                "scope": self.rng.choice(("热食类食品制售", "预包装食品销售", "冷食类食品制售")),
            }
            await self.publish("bigdata", "permit", permit, "共享行政许可 1 条")

    async def bad_record(self) -> None:
        """Something wrong on purpose: the gateway answers 422 with the rule broken."""
        street = self.rng.choice(self.streets)
        choice = self.rng.randrange(5)
        if choice == 0:
            path, party = "/v1/records/clue", street.id
            body: Any = {
                "source_party": street.id,
                "source_id": self.sid(f"{street.code}-XS"),
                "occurred_at": self.stamp(),
                "origin": "GRID",
                "street": street.id,
                "location": {"address": f"武昌区{self.place(street)[0]}"},
                "matter_code": "URB-099",  # not in the catalogue
                "description": "网格员上报：事项编码录入错误",
            }
            raw, content_type, what = None, "application/json", "clue with an unknown matter"
        elif choice == 1 and "bigdata" in self.tokens:
            entity = self.canonical_entity()
            last = entity["uscc"][-1]
            entity["uscc"] = entity["uscc"][:-1] + ("0" if last != "0" else "1")  # bad check
            entity["source_id"] = f"entity/{entity['uscc']}"
            path, party, body = "/v1/records/entity", "bigdata", entity
            raw, content_type, what = None, "application/json", "entity with a wrong USCC check"
        elif choice == 2:
            now = self.now()
            department = self.rng.choice(self.departments)
            path, party = "/v1/records/order", street.id
            body = {
                "source_party": street.id,
                "source_id": self.sid(f"{street.code}-CS"),
                "occurred_at": now.isoformat(timespec="seconds"),
                "order_type": "WHISTLE",
                "from_party": street.id,
                "to_parties": [department.id],
                "matter_code": self.rng.choice(self.delegated(department.prefix) or ["URB-001"]),
                "issued_at": now.isoformat(timespec="seconds"),
                "deadline": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
                "description": "办理期限早于派单时间（录入错误）",
            }
            raw, content_type, what = None, "application/json", "order due before it was issued"
        elif choice == 3 and "dept-urban" in self.tokens:
            native, _ = self.native_clue(DEPARTMENT_OF["dept-urban"], street, "URB-001", "0999")
            path, party, body = "/v1/native/urban-case", "dept-urban", None
            raw = json.dumps(native, ensure_ascii=False).encode()
            content_type, what = "application/json", "urban-case with an unknown category 0999"
        else:
            officers = self.officers.get(street.id, [])[:1]
            path, party = "/v1/records/case", street.id
            body = {
                "source_party": street.id,
                "source_id": self.sid(f"{street.code}-AJ"),
                "occurred_at": self.stamp(),
                "case_no": f"武{street.short[0]}执罚〔2026〕{self.rng.randint(10, 999)}号",
                "owner_party": street.id,
                "matter_code": "URB-005",
                "legal_basis": self.matters["URB-005"].legal_basis,
                "party": {
                    "party_type": "NATURAL_PERSON",
                    "name": self.name(),
                    "id_number": self.citizen_id(),
                },
                "officers": [{"certificate_no": c, "name": n} for c, n in officers],
                "status": "INVESTIGATING",
            }
            raw, content_type, what = None, "application/json", "case with one officer"
        status, answer = await self.request(
            party, "POST", path, body, raw=raw, content_type=content_type
        )
        if status == 422:
            self.stats.add("rejected")
            self.stats.add("bad")
            errors = answer.get("errors", []) if isinstance(answer, dict) else []
            rule = errors[0].get("rule") if errors else "?"
            self.say(f"{NAMES[party]} 故意发送错误记录（{what}）：422 {rule}")
        else:
            self._refused(party, f"bad {what} (expected 422)", status, answer)

    # ------------------------------------------------------------ reactions

    def hint(self, party: str, delay: float = 1.5) -> None:
        """party's system is told something is coming: read its inbox soon."""
        if party not in self.due:
            return
        now = time.monotonic()
        self.due[party] = min(self.due[party], now + delay)
        self.expect[party] = max(self.expect.get(party, 0.0), now + 15.0)

    def on_item(self, party: str, item: dict[str, Any]) -> None:
        record = item.get("record")
        if not isinstance(record, dict):
            return
        key = (party, str(record.get("record_id")))
        if key in self.seen:
            return  # at-least-once: the same record again
        try:
            received = datetime.fromisoformat(str(record.get("received_at")))
        except ValueError:
            received = self.started
        if received < self.started:
            self.stats.add("older")  # left in the inbox by an earlier run: not replayed
            return
        self.seen.add(key)
        self.stats.add("inbox")
        kind = item.get("kind")
        if kind in ("order", "order-event") and not self.ours(record):
            # posted by someone else (a user trying the hub), or the demo's own clue's
            # assignment arrived before the clue's 202 answer: look again in a while
            self.spawn(self.look_again(party, kind, record))
            return
        if kind == "order":
            self.on_order(party, record)
        elif kind == "order-event":
            self.on_event(party, record)

    async def look_again(self, party: str, kind: str, record: dict[str, Any]) -> None:
        await self.pause(5.0, 5.0)
        if not self.ours(record):
            self.stats.add("others")
        elif kind == "order":
            self.on_order(party, record)
        else:
            self.on_event(party, record)

    def ours(self, record: dict[str, Any]) -> bool:
        """Whether an inbox record belongs to an order this demo run created: one it
        posted, or the hub's ASSIGNMENT of a clue it published."""
        order_id = str(record.get("order_id"))
        if order_id in self.orders:
            return True
        if "order_type" not in record:
            return False  # an event of an order the demo has not seen: not its own
        return (
            order_id in self.created
            or str(record.get("subject_id")) in self.created
            or f"-{self.run}-" in str(record.get("source_id", ""))
        )

    def memo_of(self, record: dict[str, Any]) -> OrderMemo:
        order_id = str(record["order_id"])
        memo = self.orders.get(order_id)
        if memo is None:
            memo = OrderMemo(
                order_id,
                str(record.get("order_type", "ASSIGNMENT")),
                str(record.get("from_party", "")),
                list(record.get("to_parties", [])),
                str(record.get("matter_code", "")),
            )
            self.orders[order_id] = memo
        return memo

    def on_order(self, party: str, record: dict[str, Any]) -> None:
        memo = self.memo_of(record)
        if party == memo.issuer:
            return
        if party not in memo.recipients:
            if party == "procuratorate" and memo.order_type == "CRIMINAL_REFERRAL":
                self.say(f"区人民检察院 收到移送抄送 {memo.order_id[:8]}")
                return
            memo.recipients.append(party)  # a whistle routed by the matter catalogue
        self.receive(party, memo)

    def receive(self, party: str, memo: OrderMemo) -> None:
        if f"receive:{party}" in memo.done:
            return
        memo.done.add(f"receive:{party}")
        if memo.order_type == "CRIMINAL_REFERRAL" and party == "police":
            self.spawn(self.police_first_decision(memo))
        elif memo.order_type == "CASE_TRANSFER":
            self.spawn(self.transfer_recipient(party, memo))
        else:
            self.spawn(self.routine_recipient(party, memo))

    def on_event(self, party: str, record: dict[str, Any]) -> None:
        actor = record.get("actor_party")
        event_type = record.get("event_type")
        if actor == party:
            return
        memo = self.memo_of(record)
        if event_type in ("OVERDUE", "ESCALATED"):
            self.stats.add("overdue" if event_type == "OVERDUE" else "escalated")
            self.say(
                f"{NAMES.get(party, party)} 收到{EVENT_ZH[event_type]}通知（{memo.order_id[:8]}）"
            )
            return
        if event_type == "REASSIGNED" and party in (record.get("reassign_to") or []):
            memo.recipients = list(record["reassign_to"])
            self.receive(party, memo)
            return
        if party == memo.issuer:
            self.issuer_reacts(party, memo, str(event_type))
        elif party == "police" and event_type in ("RECONSIDERATION", "SUPERVISION"):
            self.once(memo, f"redecide{memo.decisions}", self.police_decides_again(memo))
        elif party == "procuratorate" and event_type == "NOT_FILED" and memo.plan == "supervise":
            self.once(memo, "supervise", self.procuratorate_supervises(memo))

    def once(self, memo: OrderMemo, what: str, flow: Coroutine[Any, Any, None]) -> None:
        if what in memo.done:
            flow.close()
            return
        memo.done.add(what)
        self.spawn(flow)

    def issuer_reacts(self, party: str, memo: OrderMemo, event_type: str) -> None:
        if memo.order_type == "CRIMINAL_REFERRAL":
            if event_type == "FILED" or (event_type == "NOT_FILED" and memo.plan == "accept"):
                self.once(memo, "close", self.issuer_closes(party, memo, evaluate=False))
            elif event_type == "NOT_FILED" and memo.plan == "reconsider":
                self.once(memo, "reconsider", self.issuer_asks_reconsideration(party, memo))
        elif memo.order_type == "CASE_TRANSFER":
            if event_type == "CLOSED":
                self.once(memo, "evaluate", self.issuer_evaluates(party, memo))
        elif event_type == "FEEDBACK":
            self.once(memo, "close", self.issuer_closes(party, memo, evaluate=True))
        elif event_type == "RETURNED":
            self.once(memo, f"reassign{len(memo.done)}", self.issuer_reassigns(party, memo))

    # ------------------------------------------------------------------ flows

    async def routine_recipient(self, party: str, memo: OrderMemo) -> None:
        """签收 → 报到 → 反馈, or a return, or nothing (the deadline will pass)."""
        roll = self.rng.random()
        if roll < (0.35 if memo.short_deadline else 0.06):
            self.stats.add("unsigned")
            self.say(f"{NAMES.get(party, party)} 未签收 {memo.order_id[:8]}（期限将过）")
            return
        await self.pause(1, 5)
        if self.early_dlq or self.rng.random() < 0.02:
            self.early_dlq = False
            await self.misplaced_feedback(party, memo)
        if roll > 0.95:
            reason = self.rng.choice(RETURN_REASONS)
            await self.act(party, memo, "RETURNED", f"{len(memo.done)}", reason=reason)
            return
        if not await self.act(party, memo, "SIGNED", comment=self.rng.choice(SIGNED)):
            return
        await self.pause(2, 8)
        if not await self.act(party, memo, "REPORTED", comment=self.rng.choice(REPORTED)):
            return
        await self.pause(3, 10)
        await self.act(party, memo, "FEEDBACK", comment=self.rng.choice(FEEDBACK))

    async def misplaced_feedback(self, party: str, memo: OrderMemo) -> None:
        """A department system pushes its feedback as a plain record before signing: the
        hub checks it against the order (`hub.http.orders.Orders.admit`) and refuses it
        with 409 (event.not_in_state), nothing written; before the order has reached the
        hub's table it is taken, and the lifecycle stage parks it in the DLQ instead."""
        record = {
            "source_party": party,
            "source_id": f"demo-early-{memo.order_id}",
            "occurred_at": self.stamp(),
            "order_id": memo.order_id,
            "event_type": "FEEDBACK",
            "actor_party": party,
            "comment": "系统对接错误：未签收先推送反馈",
        }
        status, answer = await self.request(party, "POST", "/v1/records/order-event", record)
        if status == 409:
            self.stats.add("rejected")
            self.stats.add("bad")
            rule = answer.get("rule", "?") if isinstance(answer, dict) else "?"
            self.say(f"{NAMES[party]} 故意在签收前推送反馈：409 {rule}（未写入）")
        elif status == 202:
            self.stats.add("dlq")
            self.say(f"{NAMES[party]} 在派单到达前推送反馈（将进入死信队列）")
        else:
            self._refused(party, "misplaced feedback (expected 409)", status, answer)

    async def issuer_closes(self, party: str, memo: OrderMemo, evaluate: bool) -> None:
        await self.pause(2, 6)
        if memo.order_type == "CRIMINAL_REFERRAL":
            comment = (
                "公安机关已立案侦查，本移送办结"
                if memo.plan != "accept"
                else "认可不予立案决定，依法给予行政处罚后办结"
            )
        else:
            comment = self.rng.choice(CLOSED)
        if not await self.act(party, memo, "CLOSED", comment=comment):
            return
        if evaluate:
            await self.issuer_evaluates(party, memo)

    async def issuer_evaluates(self, party: str, memo: OrderMemo) -> None:
        await self.pause(1, 4)
        rating, comment = self.rng.choice(EVALUATIONS)
        await self.act(party, memo, "EVALUATED", rating=rating, comment=comment)

    async def issuer_reassigns(self, party: str, memo: OrderMemo) -> None:
        if self.rng.random() < 0.3:
            return  # leave it: after a second return the justice bureau rules
        await self.pause(2, 6)
        if memo.recipients and memo.recipients[0].startswith("street-"):
            pool = [s.id for s in self.streets]
        else:
            pool = [d.id for d in self.departments]
        choices = [p for p in pool if p not in memo.recipients and p != memo.issuer]
        if not choices:
            return
        target = self.rng.choice(choices)
        if await self.act(
            party,
            memo,
            "REASSIGNED",
            str(len(memo.done)),
            reassign_to=[target],
            comment=f"改派{NAMES[target]}",
        ):
            memo.recipients = [target]
            self.hint(target)

    async def transfer_recipient(self, party: str, memo: OrderMemo) -> None:
        await self.pause(2, 6)
        if self.rng.random() < 0.1:
            reason = "经审查，该案件不属于本单位管辖，退回移送单位"
            await self.act(party, memo, "RETURNED", reason=reason)
            return
        if not await self.act(party, memo, "SIGNED", comment="已签收移送材料"):
            return
        await self.pause(2, 6)
        if not await self.act(party, memo, "ACCEPTED", comment="已受理移送案件，依法立案调查"):
            return
        await self.pause(3, 8)
        if not await self.act(party, memo, "FEEDBACK", comment="已立案调查，当事人已停止违法行为"):
            return
        await self.pause(3, 8)
        await self.act(party, memo, "CLOSED", comment="案件已作出处罚决定，办结")

    async def police_first_decision(self, memo: OrderMemo) -> None:
        await self.pause(2, 6)
        if self.rng.random() < 0.4:
            if not await self.act("police", memo, "SIGNED", comment="已签收移送材料"):
                return
            await self.pause(1, 3)
        if not await self.act(
            "police", memo, "ACCEPTED", comment="受案回执：已受理，转侦查部门审查"
        ):
            return
        await self.pause(4, 12)
        filed = self.rng.random() < 0.6
        if not filed:
            memo.plan = self.rng.choice(("reconsider", "supervise", "accept"))
        await self.police_decision(memo, filed, "ACCEPTED")

    async def police_decides_again(self, memo: OrderMemo) -> None:
        await self.pause(4, 10)
        filed = self.rng.random() < 0.8
        if not filed:
            memo.plan = "accept"
        await self.police_decision(memo, filed, "RECONSIDERING", "SUPERVISED")

    async def police_decision(self, memo: OrderMemo, filed: bool, *states: str) -> None:
        """FILED or NOT_FILED, half the time in the police system's native format."""
        memo.decisions += 1
        number = self.rng.randint(1, 300)
        reason = self.rng.choice(
            (
                "经审查，涉案数额未达立案追诉标准，没有犯罪事实",
                "现有证据不能证明达到刑事追诉标准，不予立案",
            )
        )
        if self.rng.random() < 0.5:
            if not await self.await_state(memo, "police", states):
                return
            native = {
                "文书编号": f"J42010651{self.run}{self.sequence:05d}{memo.decisions}",
                "文书名称": "立案决定书" if filed else "不予立案通知书",
                "文书文号": f"武公（经）{'立' if filed else '不立'}字〔2026〕{number}号",
                "移送案件编号": memo.order_id,
                "决定类型": "02" if filed else "03",
                "决定时间": self.now().strftime("%Y年%m月%d日%H时%M分"),
                "办案单位": "经济犯罪侦查大队",
                "承办人": f"民警 {self.rng.choice(SURNAMES)}某",
            }
            if not filed:
                native["理由"] = reason
            self.sequence += 1
            what = "立案决定" if filed else "不予立案"
            if await self.publish_native("police", "decision", native, what, counter="events"):
                for party in (memo.issuer, "procuratorate"):
                    self.hint(party, 3.0)
            return
        if filed:
            await self.act(
                "police",
                memo,
                "FILED",
                str(memo.decisions),
                comment=f"立案决定书 武公（经）立字〔2026〕{number}号",
            )
        else:
            await self.act("police", memo, "NOT_FILED", str(memo.decisions), reason=reason)

    async def await_state(self, memo: OrderMemo, party: str, states: tuple[str, ...]) -> bool:
        """Wait until the hub shows the order in one of states (native records are not
        checked against the state when posted)."""
        for _ in range(8):
            status, answer = await self.request(party, "GET", f"/v1/orders/{memo.order_id}")
            if status == 200 and answer.get("state") in states:
                return True
            await self.pause(1.5, 2.5)
        return False

    async def issuer_asks_reconsideration(self, party: str, memo: OrderMemo) -> None:
        await self.pause(3, 8)
        await self.act(
            party,
            memo,
            "RECONSIDERATION",
            reason="移送单位认为涉案数额已达追诉标准，补充证据后提请复议",
        )

    async def procuratorate_supervises(self, memo: OrderMemo) -> None:
        await self.pause(3, 8)
        await self.act(
            "procuratorate",
            memo,
            "SUPERVISION",
            comment="依法开展立案监督，要求公安机关说明不立案理由",
        )

    # ---------------------------------------------------------------- loops

    async def wait_for_hub(self) -> bool:
        assert self.session is not None
        deadline = time.monotonic() + self.wait_seconds
        while not self.stop.is_set():
            try:
                async with self.session.get(self.url + "/healthz") as answer:
                    if answer.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=1.0)
        return False

    async def inbox_loop(self) -> None:
        while not self.stop.is_set() and self.due:
            party, due = min(self.due.items(), key=lambda item: item[1])
            wait = due - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=min(wait, 0.5))
                continue
            status, answer = await self.request(
                party, "GET", f"/v1/inbox?limit=200&cursor={self.cursors.get(party, '')}"
            )
            now = time.monotonic()
            items = answer.get("items", []) if status == 200 else []
            if status == 200:
                self.cursors[party] = answer["cursor"]
                for item in items:
                    self.on_item(party, item)
            if items:
                self.due[party] = now + 3.0
            elif now < self.expect.get(party, 0.0):
                self.due[party] = now + 2.5
            else:
                self.due[party] = now + self.rng.uniform(12, 20)

    async def scenario_loop(self) -> None:
        tour: list[Callable[[], Awaitable[None]]] = [
            self.whistle,
            lambda: self.department_native_clue(STREETS[0]),
            self.criminal_referral,
            self.street_clue_to_department,
            self.entities,
            self.decided_case,
            self.bad_record,
            self.case_transfer,
            self.assistance,
            self.street_native_clue,
            self.department_assignment,
        ]
        weighted: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (self.whistle, 20),
            (self.street_clue_to_department, 14),
            (self.department_native_clue, 16),
            (self.department_assignment, 5),
            (self.street_native_clue, 8),
            (self.criminal_referral, 7),
            (self.case_transfer, 4),
            (self.assistance, 5),
            (self.decided_case, 6),
            (self.entities, 6),
        ]
        interval = REQUESTS_PER_SCENARIO / self.rate
        while not self.stop.is_set():
            if len(self.flows) < MAX_FLOWS:
                if tour:
                    scenario = tour.pop(0)
                elif self.rng.random() < BAD_SHARE:
                    scenario = self.bad_record
                else:
                    functions, weights = zip(*weighted, strict=True)
                    scenario = self.rng.choices(functions, weights)[0]
                self.spawn(self.guarded(scenario))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.stop.wait(), timeout=interval * self.rng.uniform(0.5, 1.5)
                )

    async def guarded(self, scenario: Callable[[], Awaitable[None]]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await scenario()

    async def progress_loop(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=PROGRESS_SECONDS)
            if not self.stop.is_set():
                print(self.stats.line(len(self.flows)), file=sys.stderr, flush=True)

    async def overseers_loop(self) -> None:
        """justice reads the month's assessment; ops scrapes /metrics."""
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=self.rng.uniform(25, 40))
            if self.stop.is_set():
                return
            if "ops" in self.tokens:
                status, _ = await self.request("ops", "GET", "/metrics")
                self.stats.add("metrics reads" if status == 200 else "metrics refused")
            if "justice" in self.tokens and self.rng.random() < 0.5:
                await self.request("justice", "GET", "/v1/assessment")

    async def sharing_platform_loop(self) -> None:
        """New registrations appear on the big-data bureau's platform (the poll simulator);
        the hub's http-poll connector picks them up. Now and then one carries a status the
        mapping does not know: the normaliser parks it in the DLQ."""
        if self.entities_file is None or self.entities_api is None:
            return
        assert self.session is not None
        text = self.entities_file.read_text(encoding="utf-8")
        base = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        self.entity_records = list(base)
        good = [r for r in base if r.get("DJZT") not in ("迁出", "撤销")] or base
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=self.rng.uniform(15, 25))
            if self.stop.is_set():
                return
            try:
                async with self.session.get(self.entities_api + "/stats") as answer:
                    stats = await answer.json()
                cursors = [int(c) for c in stats.get("cursors_seen", []) if str(c).isdigit()]
                if not stats.get("cursors_seen"):
                    continue  # not polled yet: its stored cursor is unknown
                cursor = max(cursors, default=0)
                # a cursor kept from an earlier run may lie past the list: fill up to it
                while len(self.entity_records) < cursor:
                    self.entity_records.append(good[len(self.entity_records) % len(good)])
                new = [self.native_entity() for _ in range(self.rng.randint(1, 3))]
                if self.rng.random() < 0.25:
                    new.append(self.native_entity(self.rng.choice(("迁出", "撤销"))))
                    self.stats.add("dlq")
                self.entity_records.extend(new)
                async with self.session.post(
                    self.entities_api + "/control", json={"records": self.entity_records}
                ) as answer:
                    if answer.status == 200:
                        self.stats.add("entities offered", len(new))
                        self.say(f"区大数据局共享平台 新增市场主体 {len(new)} 条（待枢纽轮询）")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                print(f"demo: sharing platform: {exc!r}", file=sys.stderr, flush=True)

    async def main(self) -> int:
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self.session = session
            if not await self.wait_for_hub():
                if self.stop.is_set():
                    return 0
                print(f"demo: no hub answers at {self.url}/healthz", file=sys.stderr)
                return 1
            self.stats.started = time.monotonic()
            print(
                f"demo: driving {self.url} as {len(self.tokens)} parties "
                f"({len(self.streets)} streets, {len(self.departments)} departments) at up to "
                f"{self.rate:g} requests/s; progress every {PROGRESS_SECONDS:.0f} s; "
                "Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            for party in self.readers:  # first reads spread over the first seconds
                self.due[party] = time.monotonic() + self.rng.uniform(0.5, 8)
            loops = [
                asyncio.create_task(loop())
                for loop in (
                    self.inbox_loop,
                    self.scenario_loop,
                    self.progress_loop,
                    self.overseers_loop,
                    self.sharing_platform_loop,
                )
            ]
            await self.stop.wait()
            for task in [*loops, *self.flows]:
                task.cancel()
            await asyncio.gather(*loops, *self.flows, return_exceptions=True)
        print(self.stats.line(0, "demo: stopped after"), file=sys.stderr, flush=True)
        return 0


def read_tokens(path: Path) -> dict[str, str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        raise ValueError(f"{path}: expected a JSON object {{party_id: token}}")
    return document


async def _run(args: argparse.Namespace, tokens: dict[str, str]) -> int:
    demo = Demo(args, tokens)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, demo.stop.set)
    if args.seconds:
        loop.call_later(args.seconds, demo.stop.set)
    return await demo.main()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.demo.driver",
        description="Live demo traffic for the Wuchang enforcement exchange hub: streets "
        "whistle and report clues, departments sign and answer orders, the police decide "
        "criminal referrals, the big-data bureau shares market entities, and a few bad "
        "records (422 answers, DLQ entries), all over the hub's HTTP API, each party with "
        "its own bearer token. Prints a progress line every 10 s to stderr; Ctrl-C or "
        "SIGTERM stops it cleanly (exit 0).",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub worker")
    parser.add_argument(
        "--tokens",
        type=Path,
        required=True,
        help="JSON file {party_id: bearer token} (deploy/run.sh writes .hub/demo/tokens.json); "
        "parties without a token are not played",
    )
    parser.add_argument(
        "--rate", type=float, default=6.0, help="most requests per second, all parties (6)"
    )
    parser.add_argument(
        "--seconds", type=float, default=0, help="stop after this long (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--wait", type=float, default=180, help="seconds to wait for /healthz at start (180)"
    )
    parser.add_argument(
        "--entities",
        type=Path,
        help="the native market-entity records the poll simulator serves "
        "(deploy/demo/bigdata-entities.json); with --entities-api the driver adds new ones",
    )
    parser.add_argument(
        "--entities-api",
        help="base URL of the big-data bureau's poll simulator (its /control and /stats)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: a fresh one)")
    parser.add_argument(
        "--matters", type=Path, default=REFERENCE / "matters.yaml", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--officers", type=Path, default=REFERENCE / "officers.yaml", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every action (in Chinese)"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be positive")
    try:
        tokens = read_tokens(args.tokens)
    except (OSError, ValueError) as exc:
        parser.error(f"--tokens: {exc}")
    if not any(p.startswith("street-") for p in tokens) or not any(
        p.startswith("dept-") for p in tokens
    ):
        parser.error("--tokens needs tokens for at least one street and one department")
    return asyncio.run(_run(args, tokens))


if __name__ == "__main__":
    sys.exit(main())
