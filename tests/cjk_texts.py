"""Chinese and Japanese news paragraphs (written for these tests): scripts with no spaces between words."""

ZH_FLOOD = (
    "受强降雨影响，深圳市周二启动防汛一级应急响应，全市中小学停课一天。气象部门表示，过去二十四小时内"
    "部分地区降雨量超过三百毫米，多条道路积水严重。市政府已调派两千多名救援人员前往低洼地区转移群众，"
    "目前暂无人员伤亡报告。"
)
# The same report lightly edited, as a second outlet runs it: a word changed, the last clause reworded.
ZH_FLOOD_EDITED = (
    "受强降雨影响，深圳市周二启动防汛一级应急响应，全市中小学停课一天。气象部门表示，过去二十四小时内"
    "部分地区降雨量超过三百毫米，多条道路积水严重。市政府已调派两千多名消防人员前往低洼地区转移群众，"
    "截至发稿时暂无人员伤亡。"
)
ZH_CARS = (
    "国家统计局周三发布数据显示，今年前十个月全国新能源汽车产量同比增长百分之三十二。分析人士认为，"
    "电池价格下降和充电设施的快速普及是销量上升的主要原因。多家车企表示，将在明年继续扩大海外市场布局。"
)
JA_QUAKE = (
    "気象庁によると、十五日未明に福島県沖を震源とする地震があり、宮城県で最大震度五強を観測した。"
    "この地震による津波の心配はないという。東北新幹線は安全確認のため一時運転を見合わせたが、"
    "午前七時過ぎに再開した。"
)
JA_QUAKE_HTML = (
    "<html><head><title>宮城県で震度五強 新幹線は再開</title></head><body><nav>ホーム ニュース 天気</nav>"
    f"<article><h1>宮城県で震度五強 新幹線は再開</h1><p>{JA_QUAKE}</p>"
    "<p>政府は首相官邸に情報連絡室を設置し、被害の確認を急いでいる。</p></article></body></html>"
)
