package dev.vodupload.sample

import android.util.Log
import dev.vodupload.LogLevel
import dev.vodupload.LogRecord
import dev.vodupload.LogSink

/** The library's log records, in Logcat under the tag `vod-upload`. */
class LogcatSink : LogSink {
    override fun log(record: LogRecord) {
        val priority = when (record.level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, SampleApp.TAG, "${record.target}: ${record.message}")
    }
}
