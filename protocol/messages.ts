// The UART link messages between the Linux bridge (controller) and the MCU (responder), in one import:
// codes and names (messages-codes.ts), the profile list (messages-list.ts), single changes
// (messages-edit.ts), HELLO, state and events (messages-state.ts).
export * from "./messages-codes";
export * from "./messages-edit";
export * from "./messages-list";
export * from "./messages-state";
