/*
** fiscal/tlv.c: the FFD 1.2 TLV codec (see tlv.h for the contract).
**
** Three parts: the tag dictionary, the writer, the reader. The dictionary
** is one sorted table searched by bisection; its rows are facts from the
** format tables (types, limits, the Russian names) and from the tax
** service's JSON (the names). Where no JSON name was seen for a tag, the
** row carries TLV_TAG_JSON_NAME_OURS so nobody mistakes ours for theirs.
**
** Limits are the ones the format gives for the value, not counting the
** 4-byte header: a receipt's value holds at most 32768 bytes, an item 1059
** at most 1024, a marking code 2000 at most 256.
**
** Open questions, decided here and easy to change in the table:
** - zero as a VLN is one byte 00 (never an empty value), and the reader
**   refuses an empty VLN;
** - 1078 (the operator's fiscal sign) is taken as 1 to 18 bytes: one
**   public dictionary says 16, another 18, so the reader takes either;
** - INNs (1017, 1018, 1203, 1226, 1228) and the register number 1037 are
**   right-padded with spaces by their writers; the codec checks only the
**   maximum, so a short one is not refused here.
*/
#include "fiscal/tlv.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "common/thread_slot.h"

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

static const errtab_t error_texts[] = {
    {TLV_OK, "ok", NULL, "no error"},
    {TLV_ERR_ARGUMENT, "argument", NULL, "a required argument is missing or impossible"},
    {TLV_ERR_NO_SPACE, "no_space", NULL, "the output buffer is too small"},
    {TLV_ERR_UNKNOWN_TAG, "unknown_tag", NULL, "the tag is not in the FFD 1.2 dictionary"},
    {TLV_ERR_WRONG_TYPE, "wrong_type", NULL,
     "the tag has a different type in the FFD 1.2 dictionary"},
    {TLV_ERR_VALUE_TOO_LONG, "value_too_long", NULL, "the value is longer than its tag allows"},
    {TLV_ERR_BAD_LENGTH, "bad_length", NULL,
     "the value's length is not one its type or tag allows"},
    {TLV_ERR_STLV_TOO_LONG, "stlv_too_long", NULL,
     "the document or nested structure would pass its size limit (receipt 32 KiB, item 1059 1024 "
     "bytes)"},
    {TLV_ERR_TOO_DEEP, "too_deep", NULL, "structures are nested deeper than the codec allows"},
    {TLV_ERR_NOT_OPEN, "not_open", NULL, "no structure is open"},
    {TLV_ERR_STILL_OPEN, "still_open", NULL, "a structure is still open"},
    {TLV_ERR_TRUNCATED_HEADER, "truncated_header", NULL, "the data ends inside a TLV header"},
    {TLV_ERR_LENGTH_PAST_END, "length_past_end", NULL,
     "a TLV length runs past the end of the data"},
    {TLV_ERR_NOT_CP866, "not_cp866", NULL,
     "the text has a character that code page 866 cannot hold"},
    {TLV_ERR_BAD_UTF8, "bad_utf8", NULL, "the text is not valid UTF-8"},
    {TLV_ERR_CHARSET, "charset", NULL, "this system's iconv cannot convert CP866"},
    {TLV_ERR_END, "end", NULL, "no more items"},
    ERRTAB_END(NULL, "unknown error"),
};

const char *tlv_error_code(int error) { return errtab_name(error_texts, error); }

const char *tlv_error_message(int error) { return errtab_message(error_texts, error, false); }

/* ---------------------------------------------------------------------- */
/* The dictionary                                                          */

/* clang-format off */
#define OURS TLV_TAG_JSON_NAME_OURS

#define DOCUMENT(tag, max, json, russian, flags) \
    {tag, TLV_TYPE_STLV, 0, max, json, russian, TLV_TAG_DOCUMENT | (flags)}
#define STLV(tag, max, json, russian, flags) \
    {tag, TLV_TYPE_STLV, 0, max, json, russian, flags}
#define BYTE(tag, json, russian, flags) \
    {tag, TLV_TYPE_BYTE, 1, 1, json, russian, flags}
#define UINT16(tag, json, russian, flags) \
    {tag, TLV_TYPE_UINT16, 2, 2, json, russian, flags}
#define UINT32(tag, json, russian, flags) \
    {tag, TLV_TYPE_UINT32, 4, 4, json, russian, flags}
#define UNIXTIME(tag, json, russian, flags) \
    {tag, TLV_TYPE_UNIXTIME, 4, 4, json, russian, flags}
#define VLN(tag, max, json, russian, flags) \
    {tag, TLV_TYPE_VLN, 1, max, json, russian, flags}
#define FVLN(tag, max, json, russian, flags) \
    {tag, TLV_TYPE_FVLN, 2, max, json, russian, flags}
#define STRING(tag, min, max, json, russian, flags) \
    {tag, TLV_TYPE_STRING, min, max, json, russian, flags}
#define BYTES(tag, min, max, json, russian, flags) \
    {tag, TLV_TYPE_BYTES, min, max, json, russian, flags}

/* Sorted by tag: tlv_tag_lookup() bisects it, and test_tlv checks the order. */
static const tlv_tag_info_t dictionary[] = {
    /* Form codes: a document is an STLV with one of these tags. */
    DOCUMENT(1, 6144, "fiscalReport", "Отчет о регистрации", 0),
    DOCUMENT(2, 4096, "openShift", "Отчет об открытии смены", 0),
    DOCUMENT(3, 32768, "receipt", "Кассовый чек", 0),
    DOCUMENT(4, 32768, "bso", "Бланк строгой отчетности", OURS),
    DOCUMENT(5, 4096, "closeShift", "Отчет о закрытии смены", 0),
    DOCUMENT(6, 4096, "closeArchive", "Отчет о закрытии фискального накопителя", 0),
    DOCUMENT(7, 512, "operatorConfirmation", "Подтверждение оператора", OURS),
    DOCUMENT(11, 6144, "fiscalReportCorrection", "Отчет об изменении параметров регистрации", 0),
    DOCUMENT(21, 32768, "currentStateReport", "Отчет о текущем состоянии расчетов", 0),
    DOCUMENT(31, 32768, "receiptCorrection", "Кассовый чек коррекции", 0),
    DOCUMENT(41, 32768, "bsoCorrection", "Бланк строгой отчетности коррекции", OURS),
    DOCUMENT(81, 4096, "labelCodeRequest", "Запрос о коде маркировки", OURS),
    DOCUMENT(82, 32768, "labelCodeSaleNotification",
             "Уведомление о реализации маркированного товара", OURS),
    DOCUMENT(83, 512, "labelCodeResponse", "Ответ на запрос о коде маркировки", OURS),
    DOCUMENT(84, 512, "labelCodeNotificationReceipt", "Квитанция на уведомление", OURS),

    BYTE(1001, "autoMode", "Признак автоматического режима", 0),
    BYTE(1002, "offlineMode", "Признак автономного режима", 0),
    STRING(1005, 0, 256, "transferOperatorAddress", "Адрес оператора перевода", 0),
    STRING(1008, 0, 64, "buyerPhoneOrAddress", "Телефон или электронный адрес покупателя", 0),
    STRING(1009, 0, 256, "retailPlaceAddress", "Адрес расчетов", 0),
    BYTE(1011, "timeZone", "Часовая зона места расчета", OURS),
    UNIXTIME(1012, "dateTime", "Дата, время", 0),
    STRING(1013, 0, 20, "kktNumber", "Заводской номер ККТ", 0),
    STRING(1016, 0, 12, "transferOperatorInn", "ИНН оператора перевода", 0),
    STRING(1017, 0, 12, "ofdInn", "ИНН ОФД", 0),
    STRING(1018, 0, 12, "userInn", "ИНН пользователя", 0),
    VLN(1020, 6, "totalSum", "Сумма расчета, указанного в чеке (БСО)", 0),
    STRING(1021, 0, 64, "operator", "Кассир", 0),
    BYTE(1022, "ofdResponseCode", "Код ответа ОФД", OURS),
    FVLN(1023, 8, "quantity", "Количество предмета расчета", 0),
    STRING(1026, 0, 64, "transferOperatorName", "Наименование оператора перевода", 0),
    STRING(1030, 0, 128, "name", "Наименование предмета расчета", 0),
    VLN(1031, 6, "cashTotalSum", "Сумма по чеку (БСО) наличными", 0),
    STRING(1036, 0, 20, "machineNumber", "Номер автомата", 0),
    STRING(1037, 0, 20, "kktRegId", "Регистрационный номер ККТ", 0),
    UINT32(1038, "shiftNumber", "Номер смены", 0),
    UINT32(1040, "fiscalDocumentNumber", "Номер ФД", 0),
    STRING(1041, 16, 16, "fiscalDriveNumber", "Номер ФН", 0),
    UINT32(1042, "requestNumber", "Номер чека за смену", 0),
    VLN(1043, 6, "sum", "Стоимость предмета расчета с учетом скидок и наценок", 0),
    STRING(1044, 0, 24, "paymentAgentOperation", "Операция банковского платежного агента", 0),
    STRING(1046, 0, 256, "ofdName", "Наименование ОФД", 0),
    STRING(1048, 0, 256, "user", "Наименование пользователя", 0),
    BYTE(1050, "fiscalDriveExhaustionSign", "Признак исчерпания ресурса ФН", 0),
    BYTE(1051, "fiscalDriveReplaceRequiredSign", "Признак необходимости срочной замены ФН", 0),
    BYTE(1052, "fiscalDriveMemoryExceededSign", "Признак заполнения памяти ФН", 0),
    BYTE(1053, "ofdResponseTimeoutSign", "Признак превышения времени ожидания ответа ОФД", 0),
    BYTE(1054, "operationType", "Признак расчета", 0),
    BYTE(1055, "appliedTaxationType", "Применяемая система налогообложения", 0),
    BYTE(1056, "encryptionSign", "Признак шифрования", 0),
    BYTE(1057, "paymentAgentType", "Признак агента", OURS),
    STLV(1059, 1024, "items", "Предмет расчета", 0),
    STRING(1060, 0, 256, "fnsUrl", "Адрес сайта ФНС", 0),
    BYTE(1062, "taxationType", "Системы налогообложения", 0),
    STLV(1068, 169, "ofdMessageToFiscalDrive", "Сообщение оператора для ФН", OURS),
    STRING(1073, 0, 19, "paymentAgentPhone", "Телефон платежного агента", 0),
    STRING(1074, 0, 19, "paymentOperatorPhone", "Телефон оператора по приему платежей", 0),
    STRING(1075, 0, 19, "transferOperatorPhone", "Телефон оператора перевода", 0),
    BYTES(1077, 6, 6, "fiscalSign", "Фискальный признак документа", 0),
    BYTES(1078, 1, 18, "ofdFiscalSign", "Фискальный признак оператора", OURS),
    VLN(1079, 6, "price", "Цена за единицу предмета расчета с учетом скидок и наценок", 0),
    VLN(1081, 6, "ecashTotalSum", "Сумма по чеку (БСО) безналичными", 0),
    STLV(1084, 320, "properties", "Дополнительный реквизит пользователя", 0),
    STRING(1085, 0, 64, "propertyName", "Наименование дополнительного реквизита пользователя", 0),
    STRING(1086, 0, 256, "propertyValue", "Значение дополнительного реквизита пользователя", 0),
    UINT32(1097, "notTransmittedDocumentsQuantity", "Количество непереданных ФД", 0),
    UNIXTIME(1098, "notTransmittedDocumentsDateTime", "Дата первого из непереданных ФД", 0),
    BYTE(1101, "correctionReasonCode", "Код причины перерегистрации", 0),
    VLN(1102, 6, "nds18", "Сумма НДС чека по ставке 20%", 0),
    VLN(1103, 6, "nds10", "Сумма НДС чека по ставке 10%", 0),
    VLN(1104, 6, "nds0", "Сумма расчета по чеку с НДС по ставке 0%", 0),
    VLN(1105, 6, "ndsNo", "Сумма расчета по чеку без НДС", 0),
    VLN(1106, 6, "nds18118", "Сумма НДС чека по расчетной ставке 20/120", 0),
    VLN(1107, 6, "nds10110", "Сумма НДС чека по расчетной ставке 10/110", 0),
    BYTE(1108, "internetSign", "Признак ККТ для расчетов только в Интернет", 0),
    BYTE(1109, "serviceSign", "Признак расчетов за услуги", 0),
    BYTE(1110, "bsoSign", "Признак АС БСО", 0),
    UINT32(1111, "documentsQuantity", "Общее количество ФД за смену", 0),
    UINT32(1116, "notTransmittedDocumentNumber", "Номер первого непереданного документа", 0),
    STRING(1117, 0, 64, "sellerAddress", "Адрес электронной почты отправителя чека", 0),
    UINT32(1118, "receiptsQuantity", "Количество кассовых чеков (БСО) за смену", OURS),
    BYTE(1125, "internetPayment", "Признак расчета в сети «Интернет»", OURS),
    BYTE(1126, "lotterySign", "Признак проведения лотереи", 0),
    /* The counters' limits (issue 16, checked against a public vendor
    ** driver's tag table, shtrih-m/opos Source/SmFiscalPrinter/Units/
    ** TLVTags.pas, kept in tests/data/ffd/required.json: 1129-1132 116
    ** bytes, 1133 216, 1157/1194 708, each sum of the counters VLN 8). 116 is FFD 1.05's
    ** operation: 1135 (4 + 4) and nine sums of 4 + 8 (1136, 1138, 1139-1143,
    ** 1183, 1201); 708 = 1134 (4 + 4) + 4 operations x (4 + 116) + 1133
    ** (4 + 216). FFD 1.2 adds 1218-1220 and the 2025-2026 rates six VAT
    ** sums (DOC_TAG_TOTAL_VAT_*), 4 + 8 each: an operation is 116 + 9 x 12 =
    ** 224, and 1157/1194 8 + 4 x 228 + 220 = 1140. [open]: the FNS table's
    ** own figures for FFD 1.2 were not found; these are the arithmetic of
    ** the published ones, so nothing kassa writes is refused by its own
    ** reader and nothing longer is accepted. */
    STLV(1129, 224, "sellOper", "Счетчики операций «приход»", 0),
    STLV(1130, 224, "sellReturnOper", "Счетчики операций «возврат прихода»", 0),
    STLV(1131, 224, "buyOper", "Счетчики операций «расход»", 0),
    STLV(1132, 224, "buyReturnOper", "Счетчики операций «возврат расхода»", 0),
    STLV(1133, 216, "receiptCorrection", "Счетчики операций по чекам коррекции", 0),
    UINT32(1134, "totalReceiptBsoCount",
           "Количество чеков (БСО) и чеков коррекции со всеми признаками расчетов", 0),
    UINT32(1135, "receiptBsoCount", "Количество чеков (БСО) по признаку расчетов", 0),
    VLN(1136, 8, "cashSum", "Итоговая сумма в чеках (БСО) наличными", 0),
    VLN(1138, 8, "ecashSum", "Итоговая сумма в чеках (БСО) безналичными", 0),
    VLN(1139, 8, "tax18Sum", "Сумма НДС по ставке 20%", 0),
    VLN(1140, 8, "tax10Sum", "Сумма НДС по ставке 10%", 0),
    VLN(1141, 8, "tax18118Sum", "Сумма НДС по расчетной ставке 20/120", 0),
    VLN(1142, 8, "tax10110Sum", "Сумма НДС по расчетной ставке 10/110", 0),
    VLN(1143, 8, "tax0Sum", "Сумма расчетов с НДС по ставке 0%", 0),
    UINT32(1144, "receiptCorrectionCount", "Количество чеков коррекции (БСО коррекции)", 0),
    STLV(1145, 32, "sellCorrection", "Счетчики по признаку «приход»", 0),
    STLV(1146, 32, "buyCorrection", "Счетчики по признаку «расход»", 0),
    STLV(1157, 1140, "fiscalDriveSumReports", "Счетчики итогов ФН", 0),
    STLV(1158, 708, "notTransmittedDocumentsSumReports", "Счетчики итогов непереданных ФД", 0),
    BYTES(1162, 1, 32, "productCode", "Код товара (ФФД 1.05)", 0),
    STLV(1163, 256, "productCodeNew", "Код товара", 0),
    STRING(1171, 0, 19, "providerPhone", "Телефон поставщика", 0),
    BYTE(1173, "correctionType", "Тип коррекции", 0),
    /* The tax service's own name starts with a Cyrillic "с" (U+0441);
    ** two independent dictionaries agree, so it is kept. */
    STLV(1174, 292, "\xD1\x81orrectionBase", "Основание для коррекции", 0),
    UNIXTIME(1178, "correctionDocumentDate", "Дата совершения корректируемого расчета", 0),
    STRING(1179, 0, 32, "correctionDocumentNumber", "Номер предписания налогового органа", 0),
    VLN(1183, 8, "taxFreeSum", "Сумма расчетов без НДС", 0),
    STRING(1187, 0, 256, "retailPlace", "Место расчетов", 0),
    STRING(1188, 0, 8, "kktVersion", "Версия ККТ", 0),
    BYTE(1189, "documentKktVersion", "Версия ФФД ККТ", 0),
    BYTE(1190, "documentFdVersion", "Версия ФФД ФН", 0),
    STRING(1191, 0, 64, "propertiesItem", "Дополнительный реквизит предмета расчета", 0),
    STRING(1192, 0, 16, "propertiesData", "Дополнительный реквизит чека (БСО)", 0),
    BYTE(1193, "gamblingSign", "Признак проведения азартных игр", 0),
    STLV(1194, 1140, "shiftSumReports", "Счетчики итогов смены", OURS),
    VLN(1198, 6, "unitNds", "Размер НДС за единицу предмета расчета", 0),
    BYTE(1199, "nds", "Ставка НДС", 0),
    VLN(1200, 6, "ndsSum", "Сумма НДС за предмет расчета", 0),
    VLN(1201, 8, "totalSum", "Общая итоговая сумма в чеках (БСО)", 0),
    STRING(1203, 0, 12, "operatorInn", "ИНН кассира", 0),
    UINT32(1205, "correctionKktReasonCode", "Коды причин изменения сведений о ККТ", 0),
    BYTE(1206, "operatorMessage", "Сообщение оператора", 0),
    BYTE(1207, "exciseDutyProductSign", "Признак торговли подакцизными товарами", 0),
    BYTE(1209, "fiscalDocumentFormatVer", "Номер версии ФФД", 0),
    BYTE(1212, "productType", "Признак предмета расчета", 0),
    UINT16(1213, "fdKeyResource", "Ресурс ключей ФП", 0),
    BYTE(1214, "paymentType", "Признак способа расчета", 0),
    VLN(1215, 6, "prepaidSum", "Сумма по чеку (БСО) предоплатой", 0),
    VLN(1216, 6, "creditSum", "Сумма по чеку (БСО) постоплатой (в кредит)", 0),
    VLN(1217, 6, "provisionSum", "Сумма по чеку (БСО) встречным предоставлением", 0),
    VLN(1218, 8, "prepaidSum", "Итоговая сумма в чеках (БСО) предоплатами (авансами)", 0),
    VLN(1219, 8, "creditSum", "Итоговая сумма в чеках (БСО) постоплатами (кредитами)", 0),
    VLN(1220, 8, "provisionSum", "Итоговая сумма в чеках (БСО) встречными предоставлениями", 0),
    BYTE(1221, "printInMachineSign", "Признак установки принтера в автомате", 0),
    BYTE(1222, "paymentAgentByProductType", "Признак агента по предмету расчета", 0),
    STLV(1223, 512, "paymentAgentData", "Данные агента", 0),
    STLV(1224, 512, "providerData", "Данные поставщика", 0),
    STRING(1225, 0, 256, "providerName", "Наименование поставщика", 0),
    STRING(1226, 0, 12, "providerInn", "ИНН поставщика", 0),
    STRING(1227, 0, 256, "buyer", "Покупатель (клиент)", 0),
    STRING(1228, 0, 12, "buyerInn", "ИНН покупателя (клиента)", 0),
    VLN(1229, 6, "exciseDuty", "Акциз", 0),
    STRING(1230, 0, 3, "originCountryCode", "Код страны происхождения товара", 0),
    STRING(1231, 0, 32, "customEntryNum", "Номер декларации на товар", 0),
    STLV(1232, 32, "sellReturnCorrection", "Счетчики по признаку «возврат прихода»", 0),
    STLV(1233, 32, "buyReturnCorrection", "Счетчики по признаку «возврат расхода»", 0),
    STRING(1243, 10, 10, "buyerBirthday", "Дата рождения покупателя (клиента)", 0),
    STRING(1244, 0, 3, "buyerCitizenship", "Гражданство", 0),
    STRING(1245, 0, 2, "buyerDocumentCode", "Код вида документа, удостоверяющего личность", 0),
    STRING(1246, 0, 64, "buyerDocumentData", "Данные документа, удостоверяющего личность", 0),
    STRING(1254, 0, 256, "buyerAddress", "Адрес покупателя (клиента)", 0),
    STLV(1256, 1024, "buyerInformation", "Сведения о покупателе (клиенте)", 0),
    STLV(1260, 317, "itemsIndustryDetails", "Отраслевой реквизит предмета расчета", 0),
    STLV(1261, 317, "industryReceiptDetails", "Отраслевой реквизит чека", 0),
    STRING(1262, 0, 3, "idFoiv", "Идентификатор ФОИВ", 0),
    STRING(1263, 10, 10, "foundationDocDateTime", "Дата документа основания", 0),
    STRING(1264, 0, 32, "foundationDocNumber", "Номер документа основания", 0),
    STRING(1265, 0, 256, "industryPropValue", "Значение отраслевого реквизита", 0),
    STLV(1270, 144, "operationalDetails", "Операционный реквизит чека", 0),
    BYTE(1271, "operationId", "Идентификатор операции", 0),
    STRING(1272, 0, 64, "operationData", "Данные операции", 0),
    UNIXTIME(1273, "dateTime", "Дата, время операции", 0),
    STRING(1274, 0, 32, "additionalPropsFRC", "Дополнительный реквизит ОР", 0),
    BYTES(1275, 0, 32, "additionalDataFRC", "Дополнительные данные ОР", 0),
    STRING(1276, 0, 32, "additionalPropsOS", "Дополнительный реквизит ООС", 0),
    BYTES(1277, 0, 32, "additionalDataOS", "Дополнительные данные ООС", 0),
    STRING(1278, 0, 32, "additionalPropsCS", "Дополнительный реквизит ОЗС", 0),
    BYTES(1279, 0, 32, "additionalDataCS", "Дополнительные данные ОЗС", 0),
    STRING(1280, 0, 32, "additionalPropsCSR", "Дополнительный реквизит ОТР", 0),
    BYTES(1281, 0, 32, "additionalDataCSR", "Дополнительные данные ОТР", 0),
    STRING(1282, 0, 32, "additionalPropsCA", "Дополнительный реквизит ОЗФН", 0),
    BYTES(1283, 0, 32, "additionalDataCA", "Дополнительные данные ОЗФН", 0),
    UINT32(1290, "usageConditionSigns", "Признаки условий применения ККТ", 0),
    STLV(1291, 52, "labeledProdFractionalQuantity", "Дробное количество маркированного товара", 0),
    STRING(1292, 0, 24, "fractionalPart", "Дробная часть", 0),
    VLN(1293, 8, "numerator", "Числитель", 0),
    VLN(1294, 8, "denominator", "Знаменатель", 0),

    /* Sub-tags of 1163: one per kind of product code. */
    STRING(1300, 0, 32, "undefined", "КТ Н (код товара не опознан)", 0),
    STRING(1301, 8, 8, "ean8", "КТ EAN-8", 0),
    STRING(1302, 13, 13, "ean13", "КТ EAN-13", 0),
    STRING(1303, 14, 14, "itf14", "КТ ITF-14", 0),
    STRING(1304, 0, 38, "gs1", "КТ GS1.0 (немаркированный товар)", 0),
    STRING(1305, 0, 38, "gs1m", "КТ GS1.М (маркированный товар)", 0),
    STRING(1306, 0, 38, "kmk", "КТ КМК (короткий код маркировки)", 0),
    STRING(1307, 20, 20, "mi", "КТ МИ (контрольный знак мехового изделия)", 0),
    STRING(1308, 23, 23, "egais2", "КТ ЕГАИС-2.0", 0),
    STRING(1309, 14, 14, "egais3", "КТ ЕГАИС-3.0", 0),
    STRING(1320, 0, 32, "f1", "КТ Ф.1", 0),
    STRING(1321, 0, 32, "f2", "КТ Ф.2", 0),
    STRING(1322, 0, 32, "f3", "КТ Ф.3", 0),
    STRING(1323, 0, 32, "f4", "КТ Ф.4", 0),
    STRING(1324, 0, 32, "f5", "КТ Ф.5", 0),
    STRING(1325, 0, 32, "f6", "КТ Ф.6", 0),

    /* Marking: requests, answers, notifications. */
    STRING(2000, 0, 256, "markingCode", "Код маркировки", OURS),
    UINT32(2001, "requestNumber", "Номер запроса", OURS),
    UINT32(2002, "notificationNumber", "Номер уведомления", OURS),
    BYTE(2003, "plannedStatus", "Планируемый статус товара", OURS),
    BYTE(2004, "labelCodeCheckResult", "Результат проверки КМ", OURS),
    BYTE(2005, "requestProcessingResults", "Результаты обработки запроса", OURS),
    BYTE(2006, "notificationProcessingResults", "Результаты обработки уведомления", OURS),
    STLV(2007, 512, "labeledProductData", "Данные о маркированном товаре", OURS),
    UINT32(2040, "receiptFiscalDocumentNumber", "Номер ФД кассового чека (кассового чека коррекции)", OURS),
    BYTE(2100, "labelCodeType", "Тип кода маркировки", OURS),
    STRING(2101, 0, 38, "productId", "Идентификатор товара", OURS),
    BYTE(2102, "labelCodeProcesMode", "Режим обработки кода маркировки", 0),
    UINT32(2104, "undeliveredNotificationsNumber", "Количество непереданных уведомлений", 0),
    BYTE(2105, "requestProcessingCodes", "Коды обработки запроса", OURS),
    BYTE(2106, "checkingProdInformationResult", "Результат проверки сведений о товаре", 0),
    BYTE(2107, "checkingLabeledProdResult", "Результаты проверки маркированных товаров", 0),
    BYTE(2108, "itemsQuantityMeasure", "Мера количества предмета расчета", 0),
    BYTE(2109, "productStatusResponse", "Ответ ОИСМ о статусе товара", OURS),
    BYTE(2110, "assignedStatus", "Присвоенный статус товара", OURS),
    BYTE(2111, "notificationProcessingCodes", "Коды обработки уведомления", OURS),
    BYTE(2112, "invalidLabelCodesSign", "Признак некорректных кодов маркировки", 0),
    BYTE(2113, "invalidRequestsNotificationsSign", "Признак некорректных запросов и уведомлений", 0),
    UNIXTIME(2114, "requestDateTime", "Дата и время запроса", OURS),
    STRING(2115, 4, 4, "controlCode", "Контрольный код КМ", 0),
    BYTE(2116, "operationKind", "Вид операции", OURS),

    /* [open] The receipt-level VAT sums of the 2025-2026 rates (fiscal/doc.h,
    ** DOC_TAG_VAT_*): the FNS JSON names, private stand-in numbers. */
    VLN(0xFE10, 6, "nds5", "Сумма НДС чека по ставке 5%", TLV_TAG_NUMBER_OURS),
    VLN(0xFE11, 6, "nds7", "Сумма НДС чека по ставке 7%", TLV_TAG_NUMBER_OURS),
    VLN(0xFE12, 6, "nds5105", "Сумма НДС чека по расчетной ставке 5/105", TLV_TAG_NUMBER_OURS),
    VLN(0xFE13, 6, "nds7107", "Сумма НДС чека по расчетной ставке 7/107", TLV_TAG_NUMBER_OURS),
    VLN(0xFE14, 6, "nds22", "Сумма НДС чека по ставке 22%", TLV_TAG_NUMBER_OURS),
    VLN(0xFE15, 6, "nds22122", "Сумма НДС чека по расчетной ставке 22/122", TLV_TAG_NUMBER_OURS),
    VLN(0xFE20, 8, "tax5Sum", "Сумма НДС по ставке 5%", TLV_TAG_NUMBER_OURS | OURS),
    VLN(0xFE21, 8, "tax7Sum", "Сумма НДС по ставке 7%", TLV_TAG_NUMBER_OURS | OURS),
    VLN(0xFE22, 8, "tax5105Sum", "Сумма НДС по расчетной ставке 5/105", TLV_TAG_NUMBER_OURS | OURS),
    VLN(0xFE23, 8, "tax7107Sum", "Сумма НДС по расчетной ставке 7/107", TLV_TAG_NUMBER_OURS | OURS),
    VLN(0xFE24, 8, "tax22Sum", "Сумма НДС по ставке 22%", TLV_TAG_NUMBER_OURS | OURS),
    VLN(0xFE25, 8, "tax22122Sum", "Сумма НДС по расчетной ставке 22/122",
        TLV_TAG_NUMBER_OURS | OURS),
};
/* clang-format on */

#define DICTIONARY_SIZE (sizeof dictionary / sizeof dictionary[0])

/* The dictionary's position + 1 of each FFD tag below DIRECT_TAGS (0: not
** in it), made once: a document build looks a tag up at every requisite
** (about 350 a receipt), and bisecting was 3 % of a sale's instructions.
** The private tags above (0xFE..) are bisected. */
#define DIRECT_TAGS 2200u
static uint16_t direct[DIRECT_TAGS];
static pthread_once_t direct_once = PTHREAD_ONCE_INIT;

static void direct_make(void)
{
  for (size_t i = 0; i < DICTIONARY_SIZE; i++)
    if (dictionary[i].tag < DIRECT_TAGS) direct[dictionary[i].tag] = (uint16_t)(i + 1);
}

const tlv_tag_info_t *tlv_tag_lookup(uint16_t tag)
{
  if (tag < DIRECT_TAGS && pthread_once(&direct_once, direct_make) == 0)
    return direct[tag] ? &dictionary[direct[tag] - 1] : NULL;
  size_t low = 0, high = DICTIONARY_SIZE;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    if (dictionary[middle].tag == tag) return &dictionary[middle];
    if (dictionary[middle].tag < tag)
      low = middle + 1;
    else
      high = middle;
  }
  return NULL;
}

size_t tlv_tag_count(void) { return DICTIONARY_SIZE; }

const tlv_tag_info_t *tlv_tag_at(size_t index)
{
  return index < DICTIONARY_SIZE ? &dictionary[index] : NULL;
}

const char *tlv_type_name(tlv_type_t type)
{
  switch (type) {
  case TLV_TYPE_BYTE:
    return "BYTE";
  case TLV_TYPE_UINT16:
    return "UINT16";
  case TLV_TYPE_UINT32:
    return "UINT32";
  case TLV_TYPE_VLN:
    return "VLN";
  case TLV_TYPE_FVLN:
    return "FVLN";
  case TLV_TYPE_UNIXTIME:
    return "UNIXTIME";
  case TLV_TYPE_STRING:
    return "STRING";
  case TLV_TYPE_BYTES:
    return "BYTES";
  case TLV_TYPE_STLV:
    return "STLV";
  }
  return "unknown";
}

/* ---------------------------------------------------------------------- */
/* Little-endian helpers                                                   */

static void store_uint16(uint8_t *out, uint16_t value)
{
  out[0] = (uint8_t)(value & 0xFFu);
  out[1] = (uint8_t)(value >> 8);
}

static uint16_t load_uint16(const uint8_t *in) { return (uint16_t)(in[0] | (in[1] << 8)); }

/* Writes value into out in `length` little-endian bytes. */
static void store_unsigned(uint8_t *out, uint64_t value, size_t length)
{
  for (size_t i = 0; i < length; i++) {
    out[i] = (uint8_t)(value & 0xFFu);
    value >>= 8;
  }
}

/* Reads `length` (at most 8) little-endian bytes. */
static uint64_t load_unsigned(const uint8_t *in, size_t length)
{
  uint64_t value = 0;
  for (size_t i = length; i > 0; i--) value = (value << 8) | in[i - 1];
  return value;
}

/* The bytes a VLN needs for value: trailing zero bytes dropped, at least 1. */
static size_t vln_length(uint64_t value)
{
  size_t length = 1;
  while (value > 0xFFu) {
    value >>= 8;
    length++;
  }
  return length;
}

/* ---------------------------------------------------------------------- */
/* UTF-8 and CP866                                                         */

/*
** Checks text as UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
** past U+10FFFF) and counts its characters. Returns 0, or TLV_ERR_BAD_UTF8
** with the offset of the first bad byte in *fault. iconv alone would say
** EILSEQ both for broken UTF-8 and for a character CP866 lacks; the caller
** deserves to know which.
*/
static int utf8_count(const char *text, size_t length, size_t *characters, size_t *fault)
{
  const unsigned char *bytes = (const unsigned char *)text;
  size_t count = 0, i = 0;
  while (i < length) {
    unsigned char lead = bytes[i];
    size_t extra;
    uint32_t code_point, minimum;
    if (lead < 0x80u) {
      i++;
      count++;
      continue;
    } else if (lead >= 0xC2u && lead <= 0xDFu) {
      extra = 1;
      code_point = lead & 0x1Fu;
      minimum = 0x80u;
    } else if (lead >= 0xE0u && lead <= 0xEFu) {
      extra = 2;
      code_point = lead & 0x0Fu;
      minimum = 0x800u;
    } else if (lead >= 0xF0u && lead <= 0xF4u) {
      extra = 3;
      code_point = lead & 0x07u;
      minimum = 0x10000u;
    } else {
      goto fail;
    }
    if (length - i <= extra) goto fail;
    for (size_t k = 1; k <= extra; k++) {
      if ((bytes[i + k] & 0xC0u) != 0x80u) goto fail;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3Fu);
    }
    if (code_point < minimum || code_point > 0x10FFFFu ||
        (code_point >= 0xD800u && code_point <= 0xDFFFu))
      goto fail;
    i += extra + 1;
    count++;
  }
  *characters = count;
  return 0;
fail:
  *fault = i;
  return TLV_ERR_BAD_UTF8;
}

/*
** The iconv descriptors of this thread, one per direction (0: UTF-8 to
** CP866, 1: back), opened at a thread's first conversion and closed when
** it ends: an iconv_t must not be shared between threads, and opening one
** costs more than converting a receipt's strings (a receipt is built and
** read several times a sale).
*/
typedef struct converters {
  iconv_t cd[2];
  bool opened[2];
} converters_t;

static void converters_free(void *p)
{
  converters_t *c = p;
  for (int i = 0; c && i < 2; i++)
    if (c->opened[i]) iconv_close(c->cd[i]);
  free(c);
}

static thread_slot_t converters_slot = THREAD_SLOT_INIT(converters_free);

/* This thread's descriptor for direction to_cp866 (1 when from UTF-8),
** reset to its initial state; (iconv_t)-1 when none can be had. */
static iconv_t converter(bool to_cp866)
{
  static const char *const names[2][2] = {{"CP866", "UTF-8"}, {"UTF-8", "CP866"}};
  int d = to_cp866 ? 0 : 1;
  converters_t *c = thread_slot_get(&converters_slot, sizeof *c);
  if (!c) return (iconv_t)-1;
  if (!c->opened[d]) {
    c->cd[d] = iconv_open(names[d][0], names[d][1]);
    if (c->cd[d] == (iconv_t)-1) return (iconv_t)-1;
    c->opened[d] = true;
  }
  iconv(c->cd[d], NULL, NULL, NULL, NULL);
  return c->cd[d];
}

/*
** Converts between UTF-8 and CP866 (to_cp866: from UTF-8). Text of ASCII
** only is the same bytes in both (CP866's lower half is ASCII) and is
** copied; the rest goes through this thread's iconv descriptor.
** On EILSEQ, *consumed says how many input bytes went through.
*/
static int convert(bool to_cp866, const char *in, size_t in_length, char *out, size_t out_capacity,
                   size_t *out_length, size_t *consumed)
{
  int rc = 0;
  size_t ascii = 0;
  while (ascii < in_length && (unsigned char)in[ascii] < 0x80u) ascii++;
  if (ascii == in_length) {
    size_t n = in_length < out_capacity ? in_length : out_capacity;
    memcpy(out, in, n);
    *out_length = n;
    *consumed = n;
    return n < in_length ? TLV_ERR_NO_SPACE : 0;
  }
  iconv_t cd = converter(to_cp866);
  if (cd == (iconv_t)-1) return TLV_ERR_CHARSET;
  char *in_cursor = (char *)in;
  size_t in_left = in_length;
  char *out_cursor = out;
  size_t out_left = out_capacity;
  if (iconv(cd, &in_cursor, &in_left, &out_cursor, &out_left) == (size_t)-1) {
    if (errno == E2BIG)
      rc = TLV_ERR_NO_SPACE;
    else if (errno == EILSEQ || errno == EINVAL)
      rc = TLV_ERR_NOT_CP866;
    else
      rc = TLV_ERR_CHARSET;
    goto fail;
  }
  *out_length = out_capacity - out_left;
fail:
  *consumed = in_length - in_left;
  return rc;
}

/* ---------------------------------------------------------------------- */
/* The writer                                                              */

void tlv_writer_init(tlv_writer_t *writer, uint8_t *buffer, size_t capacity)
{
  if (!writer) return;
  memset(writer, 0, sizeof *writer);
  writer->buffer = buffer;
  writer->capacity = buffer ? capacity : 0;
}

size_t tlv_writer_length(const tlv_writer_t *writer) { return writer ? writer->length : 0; }

int tlv_writer_finish(const tlv_writer_t *writer, size_t *length)
{
  if (!writer || !length) return TLV_ERR_ARGUMENT;
  if (writer->depth > 0) return TLV_ERR_STILL_OPEN;
  *length = writer->length;
  return 0;
}

/*
** Checks that a TLV with a value of value_length bytes can be appended:
** the value fits its tag (when known), the buffer has room, and no open
** STLV passes its limit. Changes nothing but the fault fields.
*/
static int writer_check(tlv_writer_t *writer, uint16_t tag, const tlv_tag_info_t *info,
                        size_t value_length)
{
  writer->fault_tag = tag;
  writer->fault_position = 0;
  if (value_length > UINT16_MAX) return TLV_ERR_VALUE_TOO_LONG;
  if (info) {
    if (value_length > info->max_length) return TLV_ERR_VALUE_TOO_LONG;
    if (value_length < info->min_length) return TLV_ERR_BAD_LENGTH;
  }
  size_t needed = TLV_HEADER_SIZE + value_length;
  if (writer->capacity - writer->length < needed) return TLV_ERR_NO_SPACE;
  size_t end = writer->length + needed;
  for (unsigned level = 0; level < writer->depth; level++) {
    const tlv_tag_info_t *open = tlv_tag_lookup(writer->open_tag[level]);
    size_t content = end - (writer->open_offset[level] + TLV_HEADER_SIZE);
    size_t limit = open ? open->max_length : UINT16_MAX;
    if (content > limit) {
      writer->fault_tag = writer->open_tag[level];
      return TLV_ERR_STLV_TOO_LONG;
    }
  }
  return 0;
}

/* Looks the tag up and checks it has the type a typed put writes. */
static int writer_typed_tag(tlv_writer_t *writer, uint16_t tag, tlv_type_t type,
                            const tlv_tag_info_t **info)
{
  writer->fault_tag = tag;
  writer->fault_position = 0;
  *info = tlv_tag_lookup(tag);
  if (!*info) return TLV_ERR_UNKNOWN_TAG;
  if ((*info)->type != type) return TLV_ERR_WRONG_TYPE;
  return 0;
}

/* Appends header and value; writer_check() must have passed. */
static void writer_append(tlv_writer_t *writer, uint16_t tag, const uint8_t *value,
                          size_t value_length)
{
  uint8_t *out = writer->buffer + writer->length;
  store_uint16(out, tag);
  store_uint16(out + 2, (uint16_t)value_length);
  if (value_length > 0) memcpy(out + TLV_HEADER_SIZE, value, value_length);
  writer->length += TLV_HEADER_SIZE + value_length;
}

/* The common path of the fixed-size and numeric puts. */
static int put_typed(tlv_writer_t *writer, uint16_t tag, tlv_type_t type, const uint8_t *value,
                     size_t value_length)
{
  const tlv_tag_info_t *info;
  int rc;
  if (!writer) return TLV_ERR_ARGUMENT;
  if ((rc = writer_typed_tag(writer, tag, type, &info)) != 0) return rc;
  if ((rc = writer_check(writer, tag, info, value_length)) != 0) return rc;
  writer_append(writer, tag, value, value_length);
  return 0;
}

int tlv_begin_stlv(tlv_writer_t *writer, uint16_t tag)
{
  const tlv_tag_info_t *info;
  int rc;
  if (!writer) return TLV_ERR_ARGUMENT;
  if ((rc = writer_typed_tag(writer, tag, TLV_TYPE_STLV, &info)) != 0) return rc;
  if (writer->depth >= TLV_MAX_DEPTH) return TLV_ERR_TOO_DEEP;
  if ((rc = writer_check(writer, tag, info, 0)) != 0) return rc;
  writer->open_offset[writer->depth] = writer->length;
  writer->open_tag[writer->depth] = tag;
  writer->depth++;
  writer_append(writer, tag, NULL, 0);
  return 0;
}

int tlv_end_stlv(tlv_writer_t *writer)
{
  if (!writer) return TLV_ERR_ARGUMENT;
  if (writer->depth == 0) return TLV_ERR_NOT_OPEN;
  size_t offset = writer->open_offset[writer->depth - 1];
  size_t content = writer->length - offset - TLV_HEADER_SIZE;
  /* Every put checked the open limits, so content fits in 16 bits. */
  store_uint16(writer->buffer + offset + 2, (uint16_t)content);
  writer->depth--;
  return 0;
}

int tlv_cancel_stlv(tlv_writer_t *writer)
{
  if (!writer) return TLV_ERR_ARGUMENT;
  if (writer->depth == 0) return TLV_ERR_NOT_OPEN;
  writer->depth--;
  writer->length = writer->open_offset[writer->depth];
  return 0;
}

int tlv_put_byte(tlv_writer_t *writer, uint16_t tag, uint8_t value)
{
  return put_typed(writer, tag, TLV_TYPE_BYTE, &value, 1);
}

int tlv_put_uint16(tlv_writer_t *writer, uint16_t tag, uint16_t value)
{
  uint8_t bytes[2];
  store_uint16(bytes, value);
  return put_typed(writer, tag, TLV_TYPE_UINT16, bytes, sizeof bytes);
}

int tlv_put_uint32(tlv_writer_t *writer, uint16_t tag, uint32_t value)
{
  uint8_t bytes[4];
  store_unsigned(bytes, value, sizeof bytes);
  return put_typed(writer, tag, TLV_TYPE_UINT32, bytes, sizeof bytes);
}

int tlv_put_unixtime(tlv_writer_t *writer, uint16_t tag, uint32_t seconds)
{
  uint8_t bytes[4];
  store_unsigned(bytes, seconds, sizeof bytes);
  return put_typed(writer, tag, TLV_TYPE_UNIXTIME, bytes, sizeof bytes);
}

int tlv_put_vln(tlv_writer_t *writer, uint16_t tag, uint64_t value)
{
  uint8_t bytes[8];
  size_t length = vln_length(value);
  store_unsigned(bytes, value, length);
  return put_typed(writer, tag, TLV_TYPE_VLN, bytes, length);
}

int tlv_put_fvln(tlv_writer_t *writer, uint16_t tag, tlv_fvln_t value)
{
  uint8_t bytes[9];
  size_t length = vln_length(value.mantissa);
  bytes[0] = value.scale;
  store_unsigned(bytes + 1, value.mantissa, length);
  return put_typed(writer, tag, TLV_TYPE_FVLN, bytes, 1 + length);
}

int tlv_put_string(tlv_writer_t *writer, uint16_t tag, const char *text, size_t length)
{
  const tlv_tag_info_t *info;
  size_t characters = 0, fault = 0, written = 0, consumed = 0;
  int rc;
  if (!writer || (!text && length > 0)) return TLV_ERR_ARGUMENT;
  if ((rc = writer_typed_tag(writer, tag, TLV_TYPE_STRING, &info)) != 0) return rc;
  if (!text) text = "";
  if ((rc = utf8_count(text, length, &characters, &fault)) != 0) {
    writer->fault_position = fault;
    return rc;
  }
  /* CP866 has one byte per character, so the length is known before
  ** converting and the limits can be checked first. */
  if ((rc = writer_check(writer, tag, info, characters)) != 0) return rc;
  uint8_t *value = writer->buffer + writer->length + TLV_HEADER_SIZE;
  if (characters > 0) {
    rc = convert(true, text, length, (char *)value, characters, &written, &consumed);
    if (rc != 0) {
      /* Bytes past writer->length may be scribbled on; the document
      ** itself is untouched. */
      writer->fault_position = consumed;
      return rc;
    }
    if (written != characters) return TLV_ERR_CHARSET;
  }
  uint8_t *header = writer->buffer + writer->length;
  store_uint16(header, tag);
  store_uint16(header + 2, (uint16_t)characters);
  writer->length += TLV_HEADER_SIZE + characters;
  return 0;
}

int tlv_put_bytes(tlv_writer_t *writer, uint16_t tag, const uint8_t *data, size_t length)
{
  if (!data && length > 0) return TLV_ERR_ARGUMENT;
  return put_typed(writer, tag, TLV_TYPE_BYTES, data, length);
}

int tlv_put_raw(tlv_writer_t *writer, uint16_t tag, const uint8_t *value, size_t length)
{
  int rc;
  if (!writer || (!value && length > 0)) return TLV_ERR_ARGUMENT;
  if ((rc = writer_check(writer, tag, tlv_tag_lookup(tag), length)) != 0) return rc;
  writer_append(writer, tag, value, length);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* The reader                                                              */

void tlv_reader_init(tlv_reader_t *reader, const uint8_t *data, size_t size)
{
  if (!reader) return;
  memset(reader, 0, sizeof *reader);
  reader->data = data;
  reader->size = data ? size : 0;
}

bool tlv_reader_done(const tlv_reader_t *reader)
{
  return !reader || reader->position >= reader->size;
}

int tlv_reader_next(tlv_reader_t *reader, tlv_item_t *item)
{
  if (!reader || !item) return TLV_ERR_ARGUMENT;
  size_t left = reader->size - reader->position;
  if (left == 0) return TLV_ERR_END;
  reader->fault_position = reader->base_offset + reader->position;
  if (left < TLV_HEADER_SIZE) return TLV_ERR_TRUNCATED_HEADER;
  const uint8_t *header = reader->data + reader->position;
  uint16_t length = load_uint16(header + 2);
  if (length > left - TLV_HEADER_SIZE) return TLV_ERR_LENGTH_PAST_END;
  item->tag = load_uint16(header);
  item->length = length;
  item->value = header + TLV_HEADER_SIZE;
  item->offset = reader->base_offset + reader->position;
  item->depth = reader->depth;
  reader->position += TLV_HEADER_SIZE + length;
  return 0;
}

int tlv_reader_enter(const tlv_item_t *item, tlv_reader_t *child)
{
  if (!item || !child) return TLV_ERR_ARGUMENT;
  const tlv_tag_info_t *info = tlv_tag_lookup(item->tag);
  if (info && info->type != TLV_TYPE_STLV) return TLV_ERR_WRONG_TYPE;
  if (info && item->length > info->max_length) return TLV_ERR_BAD_LENGTH;
  if (item->depth + 1 > TLV_MAX_DEPTH) return TLV_ERR_TOO_DEEP;
  tlv_reader_init(child, item->value, item->length);
  child->base_offset = item->offset + TLV_HEADER_SIZE;
  child->depth = item->depth + 1;
  return 0;
}

/*
** The checks every getter makes: the tag, when known, has this type and an
** allowed length; the length is one the type itself allows; and then the
** getter's outputs were given (outputs_given: its pointers are not NULL),
** else TLV_ERR_ARGUMENT.
*/
static int item_check(const tlv_item_t *item, tlv_type_t type, size_t type_min, size_t type_max,
                      bool outputs_given)
{
  if (!item || (!item->value && item->length > 0)) return TLV_ERR_ARGUMENT;
  const tlv_tag_info_t *info = tlv_tag_lookup(item->tag);
  if (info) {
    if (info->type != type) return TLV_ERR_WRONG_TYPE;
    if (item->length < info->min_length || item->length > info->max_length)
      return TLV_ERR_BAD_LENGTH;
  }
  if (item->length < type_min || item->length > type_max) return TLV_ERR_BAD_LENGTH;
  return outputs_given ? 0 : TLV_ERR_ARGUMENT;
}

int tlv_get_byte(const tlv_item_t *item, uint8_t *value)
{
  int rc = item_check(item, TLV_TYPE_BYTE, 1, 1, value != NULL);
  if (rc == 0) *value = item->value[0];
  return rc;
}

int tlv_get_uint16(const tlv_item_t *item, uint16_t *value)
{
  int rc = item_check(item, TLV_TYPE_UINT16, 2, 2, value != NULL);
  if (rc == 0) *value = load_uint16(item->value);
  return rc;
}

int tlv_get_uint32(const tlv_item_t *item, uint32_t *value)
{
  int rc = item_check(item, TLV_TYPE_UINT32, 4, 4, value != NULL);
  if (rc == 0) *value = (uint32_t)load_unsigned(item->value, 4);
  return rc;
}

int tlv_get_unixtime(const tlv_item_t *item, uint32_t *seconds)
{
  int rc = item_check(item, TLV_TYPE_UNIXTIME, 4, 4, seconds != NULL);
  if (rc == 0) *seconds = (uint32_t)load_unsigned(item->value, 4);
  return rc;
}

int tlv_get_vln(const tlv_item_t *item, uint64_t *value)
{
  int rc = item_check(item, TLV_TYPE_VLN, 1, 8, value != NULL);
  if (rc == 0) *value = load_unsigned(item->value, item->length);
  return rc;
}

int tlv_get_fvln(const tlv_item_t *item, tlv_fvln_t *value)
{
  int rc = item_check(item, TLV_TYPE_FVLN, 2, 9, value != NULL);
  if (rc != 0) return rc;
  value->scale = item->value[0];
  value->mantissa = load_unsigned(item->value + 1, item->length - 1u);
  return 0;
}

int tlv_get_string(const tlv_item_t *item, char *text, size_t capacity, size_t *length)
{
  size_t written = 0, consumed = 0;
  int rc = item_check(item, TLV_TYPE_STRING, 0, UINT16_MAX, text && length);
  if (rc != 0) return rc;
  if (capacity == 0) return TLV_ERR_NO_SPACE;
  if (item->length > 0) {
    rc = convert(false, (const char *)item->value, item->length, text, capacity - 1, &written,
                 &consumed);
    if (rc != 0) return rc;
  }
  text[written] = '\0';
  *length = written;
  return 0;
}

int tlv_get_bytes(const tlv_item_t *item, const uint8_t **data, size_t *length)
{
  int rc = item_check(item, TLV_TYPE_BYTES, 0, UINT16_MAX, data && length);
  if (rc != 0) return rc;
  *data = item->value;
  *length = item->length;
  return 0;
}

/* One level of tlv_check(); the depth limit bounds the recursion. */
static int check_list(tlv_reader_t *reader, size_t *fault_position)
{
  tlv_item_t item;
  int rc;
  while ((rc = tlv_reader_next(reader, &item)) == 0) {
    const tlv_tag_info_t *info = tlv_tag_lookup(item.tag);
    if (!info) continue;
    *fault_position = item.offset;
    if (item.length < info->min_length || item.length > info->max_length) return TLV_ERR_BAD_LENGTH;
    if (info->type == TLV_TYPE_STLV) {
      tlv_reader_t child;
      if ((rc = tlv_reader_enter(&item, &child)) != 0) return rc;
      if ((rc = check_list(&child, fault_position)) != 0) return rc;
    }
  }
  if (rc != TLV_ERR_END) {
    *fault_position = reader->fault_position;
    return rc;
  }
  return 0;
}

int tlv_check(const uint8_t *data, size_t size, size_t *fault_position)
{
  size_t position = 0;
  tlv_reader_t reader;
  if (!data && size > 0) return TLV_ERR_ARGUMENT;
  tlv_reader_init(&reader, data, size);
  int rc = check_list(&reader, &position);
  if (rc != 0 && fault_position) *fault_position = position;
  return rc;
}
