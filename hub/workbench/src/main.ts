// 工作台 the hub's workbench: one page app, Chinese (Element Plus zh-CN), served at /app/.
import ElementPlus from "element-plus";
import zhCn from "element-plus/es/locale/lang/zh-cn";
import "element-plus/dist/index.css";
import { createApp } from "vue";
import { createRouter, createWebHashHistory } from "vue-router";
import App from "./App.vue";
import { currentSession } from "./api";
import { session } from "./session";
import AssessmentPage from "./pages/AssessmentPage.vue";
import InboxPage from "./pages/InboxPage.vue";
import OrderPage from "./pages/OrderPage.vue";
import SignInPage from "./pages/SignInPage.vue";
import WhistlePage from "./pages/WhistlePage.vue";
import CreatePage from "./pages/CreatePage.vue";
import SharedPage from "./pages/SharedPage.vue";

const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: "/", redirect: "/inbox" },
    { path: "/signin", component: SignInPage, meta: { title: "登录" } },
    { path: "/inbox", component: InboxPage, meta: { title: "待办" } },
    { path: "/orders/:id", component: OrderPage, props: true, meta: { title: "派单详情" } },
    { path: "/whistle", component: WhistlePage, meta: { title: "吹哨" } },
    { path: "/assessment", component: AssessmentPage, meta: { title: "双向考核" } },
    { path: "/create/:form", component: CreatePage, props: true, meta: { title: "新建" } },
    { path: "/shared", component: SharedPage, meta: { title: "共享数据" } },
  ],
});

router.beforeEach(async (to) => {
  if (session.value === undefined) session.value = await currentSession();
  if (!session.value && to.path !== "/signin") return { path: "/signin", query: { next: to.fullPath } };
  document.title = `${String(to.meta.title ?? "")} · 武昌区综合执法协同工作台`;
  return true;
});

createApp(App).use(ElementPlus, { locale: zhCn }).use(router).mount("#app");
