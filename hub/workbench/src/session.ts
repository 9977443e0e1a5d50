import { ref } from "vue";
import type { SessionInfo } from "./api";

/** The signed-in party: undefined until asked, null when signed out. */
export const session = ref<SessionInfo | null | undefined>(undefined);
